// Spec-only commands: validate, render, schema. None touches a cluster.
import { dirname } from 'node:path';
import type { Command } from 'commander';
import {
  ANNOTATION_CONFIG_HASH,
  redactSecrets,
  renderService,
  toYaml,
} from '../../render/index.js';
import {
  SecretSourceError,
  loadSpecFile,
  resolveSecretValues,
  specJsonSchema,
} from '../../spec/index.js';
import { validateSpec } from '../../validate/spec-check.js';
import { imageFlag, versionLabelFlag } from '../context.js';
import { parseFormat, printJson } from '../output.js';

interface SpecOpts {
  file: string;
}

export function registerSpecCommands(program: Command): void {
  program
    .command('validate')
    .description(
      "check a gantry.yaml and the objects it renders (the Kubernetes v1.34 API schema and the API server's own rules); touches no cluster",
    )
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .addHelpText('after', '\nExample:\n  gantry validate -f deploy/user-service/gantry.yaml\n')
    .action(async (opts: SpecOpts, cmd: Command) => {
      const format = parseFormat(cmd.optsWithGlobals<{ output?: string }>().output);
      const { spec, objects } = await validateSpec(loadSpecFile(opts.file));
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
      'print the Kubernetes objects a spec renders to: what deploy applies (secret values shown as <redacted>)',
    )
    .option('-f, --file <path>', 'spec file', 'gantry.yaml')
    .option('--image <ref>', 'image to run (overrides the spec)', imageFlag)
    .option('--version-label <semver>', 'value of app.kubernetes.io/version', versionLabelFlag)
    .option(
      '--no-secret-sources',
      'do not read the secret sources; the config hash then differs from the one deploy applies',
    )
    .addHelpText(
      'after',
      `
Secret values are read from the sources the spec names (fromFile, fromEnv), as deploy
reads them: the pod template's ${ANNOTATION_CONFIG_HASH} annotation hashes them, so the
output is exactly what deploy applies; the Secret itself shows <redacted>. A source that
cannot be read is an error (exit 3) naming it, unless --no-secret-sources is given.

Examples:
  gantry render -f deploy/user-service/gantry.yaml
  gantry render -f gantry.yaml --image 127.0.0.1:5000/user-service:1.2.0 -o json
`,
    )
    .action(
      (
        opts: SpecOpts & { image?: string; versionLabel?: string; secretSources: boolean },
        cmd: Command,
      ) => {
        const format = parseFormat(cmd.optsWithGlobals<{ output?: string }>().output);
        const spec = loadSpecFile(opts.file);
        let secretValues: Record<string, string> | undefined;
        if (opts.secretSources) {
          try {
            secretValues = resolveSecretValues(spec, dirname(opts.file));
          } catch (err) {
            if (!(err instanceof SecretSourceError)) throw err;
            throw new SecretSourceError(
              `${err.message}\n(render reads secret sources as deploy does, to hash them into ` +
                `${ANNOTATION_CONFIG_HASH}; --no-secret-sources renders without them)`,
            );
          }
        } else if (Object.keys(spec.secrets).length > 0) {
          process.stderr.write(
            `gantry: warning: secret sources not read: ${ANNOTATION_CONFIG_HASH} covers config only and differs from what deploy applies\n`,
          );
        }
        const objects = redactSecrets(
          renderService(spec, {
            ...(opts.image ? { image: opts.image } : {}),
            ...(opts.versionLabel ? { version: opts.versionLabel } : {}),
            ...(secretValues ? { secretValues } : {}),
          }),
        );
        if (format === 'json') printJson({ apiVersion: 'v1', kind: 'List', items: objects });
        else process.stdout.write(toYaml(objects));
      },
    );

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
