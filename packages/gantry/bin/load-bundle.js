// Runs bundle/main.cjs (scripts/bundle.ts) as a vm.Script with a V8 code cache, so that
// Node does not compile ~3 MB of JavaScript on every run. The cache lives in
// $XDG_CACHE_HOME/gantry/code (~/.cache/gantry/code), one per bundle content and Node
// build. It is written at the exit of a run that found none, found V8 refusing it, or ran a
// command no earlier writer ran (a side file lists those): what V8 serialises then is every
// function compiled so far, from the cache or by this run, so after each command has run
// once the cache covers them all and is no longer written. Any failure to read or write it
// only costs compile time: the cache is never needed for correctness.
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

export function loadBundle(file, argv) {
  // ASCII only (scripts/bundle.ts): latin1 reads it without decoding UTF-8.
  const source = readFileSync(file, 'latin1');
  const id = /^\/\/ gantry-bundle ([0-9a-f]+)\n/.exec(source)?.[1];
  const enabled = id !== undefined && process.env.GANTRY_CODE_CACHE !== 'off';
  const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gantry', 'code');
  const stem = `bundle-${id}-${process.version}-${process.arch}`;
  let cachedData;
  let covered = [];
  if (enabled) {
    try {
      cachedData = readFileSync(join(dir, `${stem}.v8`));
      covered = JSON.parse(readFileSync(join(dir, `${stem}.json`), 'utf8'));
    } catch {
      // none yet (or no list: the command is written down at this exit)
    }
  }
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname, __gantryMetaUrl, __gantryImport) {${source}\n})`,
    { filename: file, ...(cachedData ? { cachedData } : {}) },
  );
  const command = commandOf(argv);
  if (enabled && (!cachedData || script.cachedDataRejected || !covered.includes(command))) {
    const commands = [...(cachedData && !script.cachedDataRejected ? covered : []), command];
    process.once('exit', () => writeCache(script, dir, stem, commands));
  }
  const module = { exports: {} };
  script.runInThisContext()(
    module.exports,
    createRequire(file),
    module,
    file,
    dirname(file),
    pathToFileURL(file).href,
    (specifier) => import(specifier),
  );
  return module.exports;
}

/** The command word of a command line: the first argument that is no option or option value. */
function commandOf(argv) {
  const takesValue = new Set(['-o', '--output', '--kubeconfig', '--context']);
  for (let i = 0; i < argv.length; i++) {
    if (takesValue.has(argv[i])) i++;
    else if (!argv[i].startsWith('-')) return argv[i];
  }
  return '';
}

function writeCache(script, dir, stem, commands) {
  try {
    mkdirSync(dir, { recursive: true });
    const put = (name, data) => {
      const tmp = join(dir, `.${name}.${process.pid}`);
      writeFileSync(tmp, data);
      renameSync(tmp, join(dir, name));
    };
    put(`${stem}.v8`, script.createCachedData());
    put(`${stem}.json`, JSON.stringify(commands));
    // Caches of other builds of the bundle (or of Node) are never read again.
    for (const f of readdirSync(dir))
      if (f.startsWith('bundle-') && !f.startsWith(`${stem}.`))
        rmSync(join(dir, f), { force: true });
  } catch {
    // A read-only or full home directory: run without a cache.
  }
}
