// gantry diff: what a deploy would change, before it changes anything.
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { diffService } from '../../release/diff.js';
import type { DiffResult, FieldChange } from '../../release/diff.js';
import { loadSpecFile, resolveSecretValues } from '../../spec/index.js';
import { globals, imageFlag, versionLabelFlag } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { printJson, UsageError } from '../output.js';
import { FILE_HELP, collectFiles, diffFleet, loadFleet, specFilesOf } from './fleet.js';

export function registerDiffCommands(program: Command): number[] {
  const exit: number[] = [];
  program
    .command('diff')
    .description('show what gantry deploy would change, object by object and field by field')
    .option('-f, --file <path>', FILE_HELP, collectFiles, [])
    .option('--image <ref>', 'image to run (overrides the spec)', imageFlag)
    .option('--version-label <semver>', 'value of app.kubernetes.io/version', versionLabelFlag)
    .addHelpText(
      'after',
      `
Each object deploy would apply is sent as a server-side apply dry run, so the API
server's defaults and other field managers' fields are accounted for exactly as in a
deploy; the result is compared with the live object. Objects the running release has
and this one lacks are listed as deleted (deploy prunes them). Secret values are never
shown: each key is reported as added, removed or changed. Nothing is changed.

Exit codes: 0 nothing would change, 7 something would, 3 invalid input, 6 cluster error.

Examples:
  gantry diff -f deploy/user-service/gantry.yaml --image 127.0.0.1:5000/gantry/user-service:1.3.0
  gantry diff -f gantry.yaml -o json | jq '.objects[] | select(.action != "unchanged")'
  gantry diff -f deploy/            # every spec below deploy/
`,
    )
    .action(
      async (opts: { file: string[]; image?: string; versionLabel?: string }, cmd: Command) => {
        const g = globals(cmd);
        const { files, many } = specFilesOf(opts.file);
        if (many) {
          if (opts.image || opts.versionLabel)
            throw new UsageError('--image and --version-label name one service: give one spec');
          exit.push(await diffFleet(await g.kube(), loadFleet(files), g.format));
          return;
        }
        const spec = loadSpecFile(files[0]!);
        const secretValues = resolveSecretValues(spec, dirname(files[0]!));
        const result = await diffService(await g.kube(), spec, {
          ...(opts.image ? { image: opts.image } : {}),
          ...(opts.versionLabel ? { version: opts.versionLabel } : {}),
          secretValues,
        });
        if (g.format === 'json') printJson(result);
        else process.stdout.write(formatDiff(result));
        exit.push(result.changed > 0 ? ExitCode.Changes : ExitCode.Ok);
      },
    );
  return exit;
}

const MARK = { create: '+', update: '~', delete: '-', unchanged: '=' } as const;

export function formatDiff(r: DiffResult): string {
  const lines: string[] = [];
  for (const o of r.objects) {
    if (o.action === 'unchanged') continue;
    lines.push(`${MARK[o.action]} ${o.object}: ${o.action}`);
    for (const c of o.changes) lines.push(`    ${formatChange(c)}`);
  }
  const unchanged = r.objects.length - r.changed;
  lines.push(
    r.changed === 0
      ? `no changes: all ${r.objects.length} objects are as deploy would leave them`
      : `${r.changed} of ${r.objects.length} objects would change${unchanged ? ` (${unchanged} unchanged)` : ''}`,
  );
  return lines.join('\n') + '\n';
}

function formatChange(c: FieldChange): string {
  if (c.before === undefined) return `+ ${c.path}: ${show(c.after)}`;
  if (c.after === undefined) return `- ${c.path}: ${show(c.before)}`;
  if (c.before === '(hidden)' && c.after === '(hidden)') return `~ ${c.path}: changed (hidden)`;
  return `~ ${c.path}: ${show(c.before)} → ${show(c.after)}`;
}

function show(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}
