#!/usr/bin/env node
// Launcher. `npm run build` compiles the CLI to dist/ (tsc -b) and bundles it into
// bundle/main.cjs (scripts/bundle.ts), which Node starts several times faster from a code
// cache (load-bundle.js). The bundle is used only when it is newer than the last compile,
// so a `tsc -b` alone never runs stale code.
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const mtime = (rel) => {
  try {
    return statSync(new URL(rel, import.meta.url)).mtimeMs;
  } catch {
    return -1;
  }
};
const fresh = mtime('../bundle/main.cjs') >= mtime('../tsconfig.tsbuildinfo');
const { main } = fresh
  ? (await import('./load-bundle.js')).loadBundle(
      fileURLToPath(new URL('../bundle/main.cjs', import.meta.url)),
      process.argv.slice(2),
    )
  : await import('../dist/cli/main.js');

// A closed pipe (gantry history | head) ends the output quietly, as Unix tools do.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await main(process.argv.slice(2));
// Completion answers the shell at once, even while a cut-off cluster request is still open.
if (process.argv[2] === '__complete') process.exit(process.exitCode);
