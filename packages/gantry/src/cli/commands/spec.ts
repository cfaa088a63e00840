// Spec-only commands: validate, render, schema. None touches a cluster.
import type { Command } from 'commander';
import { renderService, redactSecrets, toYaml } from '../../render/index.js';
import { loadSpecFile, specJsonSchema } from '../../spec/index.js';
import { parseFormat, printJson } from '../output.js';

interface SpecOpts {
  file: string;
}

export function registerSpecCommands(program: Command): void {
  program
    .command('validate')
    .description(
      'check a gantry.yaml and the objects it renders (against the Kubernetes v1.34 API schema); touches no cluster',
    )
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .addHelpText('after', '\nExample:\n  gantry validate -f deploy/user-service/gantry.yaml\n')
    .action(async (opts: SpecOpts, cmd: Command) => {
      const format = parseFormat(cmd.optsWithGlobals<{ output?: string }>().output);
      const spec = loadSpecFile(opts.file);
      const objects = renderService(spec);
      const { ObjectValidationError, validateObjects } = await import('../../validate/openapi.js');
      const problems = validateObjects(objects);
      if (problems.length) throw new ObjectValidationError(problems);
      if (format === 'json') {
        printJson({ valid: true, file: opts.file, name: spec.name, objects: objects.map(ref) });
      } else {
        process.stdout.write(
          `${opts.file}: valid (${objects.length} objects: ${objects.map((o) => o.kind).join(', ')})\n`,
        );
      }
    });

  program
    .command('render')
    .description(
      'print the Kubernetes objects a spec renders to (secret values shown as <redacted>)',
    )
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .option('--image <ref>', 'image to run (overrides the spec)')
    .option('--version-label <semver>', 'value of app.kubernetes.io/version')
    .addHelpText(
      'after',
      '\nExamples:\n  gantry render -f deploy/user-service/gantry.yaml\n  gantry render -f gantry.yaml --image 127.0.0.1:5000/user-service:1.2.0 -o json\n',
    )
    .action((opts: SpecOpts & { image?: string; versionLabel?: string }, cmd: Command) => {
      const format = parseFormat(cmd.optsWithGlobals<{ output?: string }>().output);
      const spec = loadSpecFile(opts.file);
      const objects = redactSecrets(
        renderService(spec, {
          ...(opts.image ? { image: opts.image } : {}),
          ...(opts.versionLabel ? { version: opts.versionLabel } : {}),
        }),
      );
      if (format === 'json') printJson({ apiVersion: 'v1', kind: 'List', items: objects });
      else process.stdout.write(toYaml(objects));
    });

  program
    .command('schema')
    .description('print the JSON Schema of gantry.yaml, for editor completion and validation')
    .addHelpText(
      'after',
      '\nExample (yaml-language-server):\n  gantry schema > gantry.schema.json\n  # then in gantry.yaml: # yaml-language-server: $schema=./gantry.schema.json\n',
    )
    .action(() => {
      printJson(specJsonSchema());
    });
}

function ref(o: { kind: string; metadata: { name: string; namespace?: string } }) {
  return { kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace };
}
