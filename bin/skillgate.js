#!/usr/bin/env node
// Runs the compiled CLI (npm install builds it via the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/src/app/cli/main.js', import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write('skillgate: not built yet. Run `npm install` (or `npm run build`) in the project folder first.\n');
  process.exit(1);
}
await import(cli);
