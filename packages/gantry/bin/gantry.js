#!/usr/bin/env node
// Launcher: the CLI is compiled to dist/ by `npm run build` (tsc -b).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
