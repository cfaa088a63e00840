import { Command, CommanderError } from 'commander';
import { gantryVersion } from '../gantry-version.js';
import { SpecError } from '../spec/index.js';
import { registerChartCommands } from './commands/chart.js';
import { registerAlertCommands } from './commands/alerts.js';
import { registerChaosCommands } from './commands/chaos.js';
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
import { UsageError } from './output.js';

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
  registerAlertCommands(program);
  registerVersionCommands(program);
  const releaseExits = registerReleaseCommands(program);
  const progressiveExits = registerProgressiveCommands(program);
  const shipExits = registerShipCommands(program);
  const chaosExits = registerChaosCommands(program);
  registerCodegenCommands(program);
  program.hook('postAction', () => {
    exitCodes.push(...releaseExits, ...progressiveExits, ...shipExits, ...chaosExits);
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
    if (err instanceof SpecError) {
      if (program.opts<{ output?: string }>().output === 'json') {
        process.stdout.write(
          JSON.stringify({ valid: false, problems: err.problems }, null, 2) + '\n',
        );
      }
      process.stderr.write(`gantry: ${err.message}\n`);
      return ExitCode.InvalidInput;
    }
    if (
      err instanceof SecretSourceError ||
      err instanceof VersionError ||
      (err instanceof Error && err.name === 'ObjectValidationError')
    ) {
      process.stderr.write(`gantry: ${err.message}\n`);
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
      process.stderr.write(`gantry: ${err.message}\n`);
      return (err as Error & { input?: boolean }).input
        ? ExitCode.InvalidInput
        : ExitCode.ClusterError;
    }
    if (err instanceof KubeApiError || err instanceof KubeconfigError) {
      process.stderr.write(`gantry: ${err.message}\n`);
      return ExitCode.ClusterError;
    }
    process.stderr.write(`gantry: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCode.Failure;
  }
}
