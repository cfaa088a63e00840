// Bundles the compiled CLI (dist/cli/main.js) into bundle/: a handful of ES module files
// instead of ~150 under dist/ and node_modules, which halves the time Node spends loading
// the CLI (`gantry --version` ~0.4 s -> ~0.2 s; the part of `gantry deploy` outside its
// stages ~0.55-0.69 s -> ~0.34-0.47 s, on the 2-core test machine).
//
// What a command loads only on demand stays a separate chunk (code splitting): the 1.5 MB
// of precompiled Kubernetes validators, the progressive-release driver, image building.
// @kubernetes/client-node stays outside (resolved from node_modules as before): it is only
// loaded for kubeconfig exec plugins and would add 14 MB to the bundle.
//
// bin/gantry.js runs the bundle when it is newer than the last `tsc -b` and falls back to
// dist/ otherwise, so a build without this step never runs stale code.
//
//   npm run build -w @gantry/gantry     # tsc -b, then this script
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const out = `${pkg}bundle`;
const started = performance.now();

rmSync(out, { recursive: true, force: true });
const result = await build({
  absWorkingDir: pkg,
  entryPoints: { main: 'dist/cli/main.js' },
  outdir: 'bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['@kubernetes/client-node'],
  // CommonJS dependencies (commander) require() Node's built-ins; an ES module has no
  // require of its own.
  banner: {
    js: "import { createRequire as __gantryCreateRequire } from 'node:module'; const require = __gantryCreateRequire(import.meta.url);",
  },
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});

const files = Object.entries(result.metafile.outputs);
const bytes = files.reduce((n, [, o]) => n + o.bytes, 0);
process.stderr.write(
  `bundle: ${files.length} files, ${(bytes / 1e6).toFixed(1)} MB in ${Math.round(performance.now() - started)} ms\n`,
);
