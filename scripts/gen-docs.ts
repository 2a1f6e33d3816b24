/**
 * Writes the generated docs (docs/configuration.md, docs/errors.md): `npm run docs`.
 * With --check it writes nothing and exits 1 naming each stale file and the command that fixes it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DOCS_COMMAND, GENERATED_DOCS, readDoc, REPO_ROOT, staleDocs } from './docs-lib.ts';

const USAGE = 'usage: tsx scripts/gen-docs.ts [--check]';

function main(args: readonly string[]): number {
  const unknown = args.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    console.error(`unknown argument ${unknown.join(' ')}\n${USAGE}`);
    return 2;
  }
  if (args.includes('--check')) {
    const stale = staleDocs();
    for (const doc of stale) {
      console.error(`${doc.file} is stale: run \`${DOCS_COMMAND}\` and commit the result`);
    }
    if (stale.length === 0)
      console.log(`generated docs are up to date (${GENERATED_DOCS.length} files)`);
    return stale.length === 0 ? 0 : 1;
  }
  for (const doc of GENERATED_DOCS) {
    const text = doc.render();
    if (readDoc(doc.file) === text) {
      console.log(`${doc.file}: up to date`);
      continue;
    }
    const target = path.join(REPO_ROOT, doc.file);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, text);
    console.log(`${doc.file}: written`);
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  // A schema field without a description, or an example that no longer validates.
  console.error(`docs: ${(err as Error).message}`);
  process.exitCode = 1;
}
