// Runs bundle/main.cjs (scripts/bundle.ts) as a vm.Script with a V8 code cache, so that
// Node does not compile ~3 MB of JavaScript on every run. The cache lives in
// $XDG_CACHE_HOME/gantry/code (~/.cache/gantry/code), one file per bundle content and Node build;
// it is written once, at the exit of the first run that found none (or found V8 refusing
// it), and then holds every function that run compiled. Any failure to read or write it
// only costs the compile time: the cache is never needed for correctness.
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

export function loadBundle(file) {
  // ASCII only (scripts/bundle.ts): latin1 reads it without decoding UTF-8.
  const source = readFileSync(file, 'latin1');
  const id = /^\/\/ gantry-bundle ([0-9a-f]+)\n/.exec(source)?.[1];
  const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gantry', 'code');
  const name = id && `bundle-${id}-${process.version}-${process.arch}.v8`;
  let cachedData;
  if (name && process.env.GANTRY_CODE_CACHE !== 'off') {
    try {
      cachedData = readFileSync(join(dir, name));
    } catch {
      // none yet
    }
  }
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname, __gantryMetaUrl, __gantryImport) {${source}\n})`,
    { filename: file, ...(cachedData ? { cachedData } : {}) },
  );
  if (name && process.env.GANTRY_CODE_CACHE !== 'off' && (!cachedData || script.cachedDataRejected))
    process.once('exit', () => writeCache(script, dir, name));
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

function writeCache(script, dir, name) {
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `.${name}.${process.pid}`);
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, join(dir, name));
    // Caches of other builds of the bundle (or of Node) are never read again.
    for (const f of readdirSync(dir))
      if (f.startsWith('bundle-') && f.endsWith('.v8') && f !== name)
        rmSync(join(dir, f), { force: true });
  } catch {
    // A read-only or full home directory: run without a cache.
  }
}
