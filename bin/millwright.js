#!/usr/bin/env node
// Entry point of the `millwright` command. The TypeScript sources are compiled to dist/ by
// `npm ci` / `npm install` (the package's `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/bin.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error(
    'millwright: dist/ is missing. Run `npm ci` (or `npm run build`) in the package folder.',
  );
  process.exit(1);
}
await import(main.href);
