#!/usr/bin/env node
// Launcher: the CLI is compiled to dist/ by `npm run build` (tsc -b).
import { main } from '../dist/cli/main.js';

// A closed pipe (gantry history | head) ends the output quietly, as Unix tools do.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await main(process.argv.slice(2));
