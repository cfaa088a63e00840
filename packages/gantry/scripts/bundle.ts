// Bundles the compiled CLI (dist/cli/main.js) into one CommonJS file, bundle/main.cjs,
// which bin/gantry.js compiles with a V8 code cache (bin/load-bundle.js). Two costs of
// starting the CLI go away: resolving and reading ~150 files under dist/ and node_modules,
// and compiling ~3 MB of JavaScript on every run (about 80 ms of the 2-core test
// machine's time in `gantry deploy`, measured with --cpu-prof). Node 20 keeps no compile
// cache for ES modules, but a vm.Script accepts one, so the bundle is a script.
//
// What a command needs only on demand (the 1.5 MB of precompiled Kubernetes validators,
// the progressive-release driver, image building) stays lazily initialised inside the
// file: esbuild turns those dynamic imports into deferred module initialisers.
// @kubernetes/client-node stays outside (resolved from node_modules): it is only loaded
// for kubeconfig exec plugins and would add 14 MB. A script compiled by vm cannot run
// import() itself (Node 20 wants --experimental-vm-modules for that), so the dynamic
// imports left in the output call __gantryImport, which the loader gives it.
//
// The first line names the content's hash; the loader keys its cache by it, because V8
// checks only a cached script's length, not its text.
//
// bin/gantry.js runs the bundle when it is newer than the last `tsc -b` and falls back to
// dist/ otherwise, so a build without this step never runs stale code.
//
//   npm run build -w @gantry/gantry     # tsc -b, then this script
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import ts from 'typescript';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const out = `${pkg}bundle`;
const started = performance.now();

const result = await build({
  absWorkingDir: pkg,
  entryPoints: ['dist/cli/main.js'],
  bundle: true,
  write: false,
  outfile: 'bundle/main.cjs',
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['@kubernetes/client-node'],
  // The loader passes the bundle's own URL in.
  define: { 'import.meta.url': '__gantryMetaUrl' },
  legalComments: 'none',
  logLevel: 'warning',
});

const file = result.outputFiles[0];
if (!file || result.outputFiles.length !== 1) throw new Error('bundle: expected one output file');
let imports = 0;
const code = file.text.replace(/\bimport\((["'][^"'\n]+["'])\)/g, (_m, spec: string) => {
  imports++;
  return `__gantryImport(${spec})`;
});
// Any import() left (one with a computed specifier) would fail at run time, not here.
const left = /(?<![\w$.])import\s*\((?!\))/.exec(code.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, ''));
if (left) throw new Error(`bundle: a dynamic import esbuild kept cannot be rewritten: ${left[0]}`);
// Pure ASCII, so the loader reads it as latin1 (a fifth of the time of decoding UTF-8).
// esbuild escapes strings already; what it leaves (in comments) is escaped here.
const ascii = code.replace(
  /[\u0080-\uffff]/g,
  (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
);
const hash = createHash('sha256').update(ascii).digest('hex').slice(0, 20);
const text = `// gantry-bundle ${hash}\n${ascii}`;
// The console's pages (console-web/: Preact and uPlot), type-checked (tsc -b does not see
// them: they are browser code) and bundled into bundle/console/, which `gantry console`
// serves. Nothing in them is fetched from elsewhere at run time. Built in memory before
// bundle/ is replaced, so the directory is without them only for an instant.
const web = `${pkg}console-web`;
const config = ts.getParsedCommandLineOfConfigFile(
  `${web}/tsconfig.json`,
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  },
);
if (!config) throw new Error('bundle: cannot read console-web/tsconfig.json');
const diagnostics = ts.getPreEmitDiagnostics(ts.createProgram(config.fileNames, config.options));
if (diagnostics.length > 0) {
  throw new Error(
    `bundle: console-web does not type-check:\n${ts.formatDiagnostics(diagnostics, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => web,
      getNewLine: () => '\n',
    })}`,
  );
}
const pages = await build({
  absWorkingDir: web,
  entryPoints: { app: 'src/main.tsx' },
  bundle: true,
  write: false,
  outdir: 'out',
  format: 'esm',
  platform: 'browser',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
const pageFiles = [
  ...pages.outputFiles.map((f) => ({ name: basename(f.path), data: f.contents })),
  ...['index.html', 'favicon.svg'].map((name) => ({ name, data: readFileSync(`${web}/${name}`) })),
];
const pageBytes = pageFiles.reduce((n, f) => n + f.data.length, 0);

rmSync(out, { recursive: true, force: true });
mkdirSync(out);
writeFileSync(`${out}/main.cjs`, text);
mkdirSync(`${out}/console`);
for (const f of pageFiles) writeFileSync(`${out}/console/${f.name}`, f.data);

process.stderr.write(
  `bundle: bundle/console/ (the console's pages), ${(pageBytes / 1e3).toFixed(0)} kB\n`,
);
process.stderr.write(
  `bundle: bundle/main.cjs, ${(text.length / 1e6).toFixed(1)} MB, ${imports} external import(s), in ${Math.round(performance.now() - started)} ms\n`,
);
