import { Command, CommanderError } from 'commander';
import { gantryVersion } from '../gantry-version.js';
import { SpecError } from '../spec/index.js';
import { excerpt } from '../spec/errors.js';
import { registerChartCommands } from './commands/chart.js';
import { registerAlertCommands } from './commands/alerts.js';
import { registerChaosCommands } from './commands/chaos.js';
import { registerConsoleCommands } from './commands/console.js';
import { registerCompletionCommands } from './commands/completion.js';
import { registerDashboardCommands } from './commands/dashboards.js';
import { registerDiffCommands } from './commands/diff.js';
import { registerProgressiveCommands } from './commands/progressive.js';
import { registerReleaseCommands } from './commands/release.js';
import { registerCodegenCommands, registerShipCommands } from './commands/ship.js';
import { registerSpecCommands } from './commands/spec.js';
import { registerVersionCommands } from './commands/version.js';
import { VersionError } from '../version/index.js';
import { KubeApiError } from '../kube/errors.js';
import { KubeconfigError } from '../kube/kubeconfig.js';
import { LockedError } from '../release/lock.js';
import { SecretSourceError } from '../spec/index.js';
import { ExitCode } from './exit-codes.js';
import { UsageError, printJson } from './output.js';

const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  unexpected failure
  2  bad usage (unknown flag, missing argument)
  3  invalid input (spec, secret source or flag value); nothing was changed
  4  deploy or rollout failed (the service was returned to its last good release),
     or a progressive release was aborted (all traffic is back on stable)
  5  locked: another gantry is working on this service
  6  the cluster refused the request or could not be reached
  7  gantry diff: the deploy would change something
`;

/** Builds the command tree. Exposed for tests, which parse without exiting. */
export function buildProgram(exitCodes: number[] = []): Command {
  const program = new Command('gantry')
    .description('Take a microservice from code to production on Kubernetes.')
    .version(gantryVersion(), '-v, --version', 'print the Gantry version')
    .option('-o, --output <format>', 'output format: text or json', 'text')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use')
    .addHelpText('after', EXIT_CODES_HELP)
    .showSuggestionAfterError(true)
    .exitOverride();
  registerSpecCommands(program);
  registerChartCommands(program);
  const alertExits = registerAlertCommands(program);
  registerVersionCommands(program);
  const releaseExits = registerReleaseCommands(program);
  const diffExits = registerDiffCommands(program);
  const progressiveExits = registerProgressiveCommands(program);
  const shipExits = registerShipCommands(program);
  const chaosExits = registerChaosCommands(program);
  registerCodegenCommands(program);
  registerDashboardCommands(program);
  registerCompletionCommands(program);
  registerConsoleCommands(program);
  program.hook('postAction', () => {
    exitCodes.push(
      ...alertExits,
      ...releaseExits,
      ...diffExits,
      ...progressiveExits,
      ...shipExits,
      ...chaosExits,
    );
  });
  for (const c of program.commands) c.exitOverride().showSuggestionAfterError(true);
  return program;
}

/** Runs the CLI with the given arguments and returns the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const exitCodes: number[] = [];
  const program = buildProgram(exitCodes);
  program.configureOutput({
    writeOut: (s) => process.stdout.write(s),
    writeErr: (s) => process.stderr.write(s),
  });
  try {
    if (argv[0] === '__complete') {
      // What <Tab> offers after the words typed so far (the shell scripts of `gantry completion`).
      const { complete, formatCompletion } = await import('./completion.js');
      process.stdout.write(formatCompletion(await complete(program, argv.slice(1))));
      return ExitCode.Ok;
    }
    if (argv.length === 0) {
      program.outputHelp();
      return ExitCode.Ok;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return exitCodes.find((c) => c !== ExitCode.Ok) ?? ExitCode.Ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') {
        return ExitCode.Ok;
      }
      return ExitCode.Usage;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`gantry: ${err.message}\n`);
      return ExitCode.Usage;
    }
    const json = program.opts<{ output?: string }>().output === 'json';
    if (err instanceof SpecError) {
      if (json) {
        printJson({
          valid: false,
          problems: err.problems,
          ...(err.omitted ? { omitted: err.omitted } : {}),
        });
      }
      process.stderr.write(`gantry: ${err.message}\n`);
      return ExitCode.InvalidInput;
    }
    if (err instanceof Error && err.name === 'ObjectValidationError') {
      // Problems of the rendered objects: the same shape as a spec's, the object for file.
      const problems = (err as Error & { problems?: readonly RenderedProblem[] }).problems ?? [];
      if (json) {
        printJson({
          valid: false,
          problems: problems.map((p) => ({
            file: '',
            object: `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name}`,
            line: 0,
            column: 0,
            field: p.path,
            message: clip(p.message),
          })),
        });
      }
      process.stderr.write(`gantry: ${clipLines(err.message)}\n`);
      return ExitCode.InvalidInput;
    }
    if (err instanceof SecretSourceError || err instanceof VersionError) {
      if (json) {
        printJson({
          valid: false,
          problems: messageLines(err.message).map((message) => ({
            file: '',
            line: 0,
            column: 0,
            field: fieldOf(message),
            message: clip(message),
          })),
        });
      }
      process.stderr.write(`gantry: ${clipLines(err.message)}\n`);
      return ExitCode.InvalidInput;
    }
    if (err instanceof Error && err.name === 'ReleaseError') {
      process.stderr.write(`gantry: ${err.message}\n`);
      return ExitCode.DeployFailed;
    }
    if (err instanceof LockedError) {
      process.stderr.write(`gantry: ${err.message}\n`);
      return ExitCode.Locked;
    }
    if (err instanceof Error && err.name === 'AlertRulesError') {
      const input = (err as Error & { input?: boolean }).input;
      if (input && json) {
        printJson({
          valid: false,
          problems: [{ file: '', line: 0, column: 0, field: '', message: clip(err.message) }],
        });
      }
      process.stderr.write(`gantry: ${clipLines(err.message)}\n`);
      return input ? ExitCode.InvalidInput : ExitCode.ClusterError;
    }
    if (err instanceof KubeApiError || err instanceof KubeconfigError) {
      process.stderr.write(`gantry: ${err.message}\n`);
      return ExitCode.ClusterError;
    }
    process.stderr.write(
      `gantry: ${clipLines(err instanceof Error ? err.message : String(err))}\n`,
    );
    return ExitCode.Failure;
  }
}

/** A problem of a rendered object (validate/openapi.ts ValidationProblem). */
interface RenderedProblem {
  kind: string;
  name: string;
  namespace?: string;
  path: string;
  message: string;
}

/** Longest line of an error message printed: no message echoes a whole long value. */
const MAX_LINE = 300;

function clip(line: string): string {
  return line.length <= MAX_LINE ? line : excerpt(line, MAX_LINE);
}

function clipLines(message: string): string {
  return message.split('\n').map(clip).join('\n');
}

/** One entry per problem line; a "(…)" line adds to the one before it. */
function messageLines(message: string): string[] {
  const out: string[] = [];
  for (const line of message.split('\n')) {
    if (line.startsWith('(') && out.length) out[out.length - 1] += ` ${line}`;
    else out.push(line);
  }
  return out;
}

/** The field a "field: message" line names ("secret DB: …" names secrets.DB), or "". */
function fieldOf(message: string): string {
  const m = /^(?:secret (\S+)|([\w.[\]-]+)):\s/.exec(message);
  if (!m) return '';
  return m[1] !== undefined ? `secrets.${m[1]}` : (m[2] ?? '');
}
