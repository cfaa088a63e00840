// gantry version: the source's semantic version from git tags, and release bumps.
import type { Command } from 'commander';
import { bumpVersion, sourceVersion } from '../../version/index.js';
import type { BumpKind } from '../../version/index.js';
import { parseFormat, printJson, UsageError } from '../output.js';

export function registerVersionCommands(program: Command): void {
  const version = program
    .command('version')
    .description("the source tree's semantic version, derived from git tags")
    .option('-C, --dir <path>', 'the git working tree', '.')
    .addHelpText(
      'after',
      `
On a clean commit tagged vX.Y.Z the version is X.Y.Z; otherwise a pre-release of the
next minor version with the commit distance and short hash, e.g. 1.4.0-dev.3+abc1234
(and "+abc1234.dirty" with uncommitted changes). Tags that are not semver are ignored.

Examples:
  gantry version
  gantry version -o json
  gantry version bump minor      # tags HEAD as the next minor release
`,
    )
    .action((opts: { dir: string }, cmd: Command) => {
      const v = sourceVersion(opts.dir);
      if (parseFormat(cmd.optsWithGlobals<{ output?: string }>().output) === 'json') printJson(v);
      else process.stdout.write(`${v.version}\n`);
    });

  version
    .command('bump <kind>')
    .description('tag HEAD as the next release: major, minor or patch (annotated tag vX.Y.Z)')
    .action((kind: string, _opts: unknown, cmd: Command) => {
      if (!['major', 'minor', 'patch'].includes(kind)) {
        throw new UsageError(`bump kind must be major, minor or patch, not "${kind}"`);
      }
      const dir = cmd.parent?.opts<{ dir: string }>().dir ?? '.';
      const r = bumpVersion(dir, kind as BumpKind);
      if (parseFormat(cmd.optsWithGlobals<{ output?: string }>().output) === 'json') printJson(r);
      else process.stdout.write(`tagged ${r.tag} (push it with: git push origin ${r.tag})\n`);
    });
}
