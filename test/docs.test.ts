/**
 * The generated docs stay in step with their sources (STYLE.md rules 9 and 11): the
 * configuration reference with the zod schema, docs/errors.md with the error registry.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DOCS_COMMAND,
  GENERATED_DOCS,
  formatDuration,
  readDoc,
  renderErrorsDoc,
  staleDocs,
  validateExampleConfig,
} from '../scripts/docs-lib.ts';
import { errorDefinitions, retiredCodes } from '../src/errors.ts';

// The area may hold digits where a standard names it so (B2MML).
const CODE_RE = /^MW_ERR_[A-Z][A-Z0-9]*_[A-Z_]+$/;

const codes = Object.keys(errorDefinitions);

/** "line N" and both versions of the first line where two texts differ. */
function firstDifference(actual: string, expected: string): string {
  const a = actual.split('\n');
  const e = expected.split('\n');
  for (let i = 0; i < Math.max(a.length, e.length); i++) {
    if (a[i] !== e[i]) {
      return `first difference at line ${i + 1}:\n  on disk:   ${a[i] ?? '<end of file>'}\n  generated: ${e[i] ?? '<end of file>'}`;
    }
  }
  return 'no difference';
}

for (const doc of GENERATED_DOCS) {
  test(`${doc.file} is what \`${DOCS_COMMAND}\` generates now`, () => {
    const expected = doc.render();
    const onDisk = readDoc(doc.file);
    assert.ok(
      onDisk !== undefined,
      `${doc.file} is missing: run \`${DOCS_COMMAND}\` and commit it`,
    );
    const actual = onDisk.replace(/\r\n/g, '\n');
    assert.ok(
      actual === expected,
      `${doc.file} is stale: run \`${DOCS_COMMAND}\` and commit the result (${firstDifference(actual, expected)})`,
    );
  });
}

test('staleDocs() reports a missing or changed file and nothing else', () => {
  const current = new Map(GENERATED_DOCS.map((d) => [d.file, d.render()]));
  assert.deepEqual(
    staleDocs((file) => current.get(file)),
    [],
  );
  assert.deepEqual(
    staleDocs((file) => current.get(file)?.replace(/\r?\n/g, '\r\n')),
    [],
    'CRLF line endings (a Windows checkout) are not a difference',
  );
  const [first, second] = GENERATED_DOCS;
  assert.ok(first !== undefined && second !== undefined);
  const stale = staleDocs((file) =>
    file === first.file
      ? undefined
      : file === second.file
        ? `${current.get(file)}\nedited by hand\n`
        : current.get(file),
  );
  assert.deepEqual(
    stale.map((d) => d.file),
    [first.file, second.file],
  );
});

test('the example configuration in the reference validates', () => {
  assert.doesNotThrow(validateExampleConfig);
});

test('durations print as they are written', () => {
  assert.equal(formatDuration(0), '0ms');
  assert.equal(formatDuration(5), '5ms');
  assert.equal(formatDuration(1500), '1.5s');
  assert.equal(formatDuration(60_000), '1m');
  assert.equal(formatDuration(900_000), '15m');
  assert.equal(formatDuration(7_200_000), '2h');
});

test('every error code is MW_ERR_<AREA>_<WHAT>', () => {
  const bad = codes.filter((c) => !CODE_RE.test(c));
  assert.deepEqual(bad, [], `codes not matching ${CODE_RE}`);
  const badRetired = retiredCodes.filter((c) => !CODE_RE.test(c));
  assert.deepEqual(badRetired, [], `retired codes not matching ${CODE_RE}`);
});

test('no code is both defined and retired, and none is retired twice', () => {
  assert.deepEqual(
    retiredCodes.filter((c) => c in errorDefinitions),
    [],
    'a retired code is never reused (STYLE.md rule 11)',
  );
  assert.deepEqual(
    retiredCodes.filter((c, i) => retiredCodes.indexOf(c) !== i),
    [],
  );
});

test('every code, defined or retired, appears in docs/errors.md', () => {
  for (const text of [readDoc('docs/errors.md') ?? '', renderErrorsDoc()]) {
    const missing = [...codes, ...retiredCodes].filter((c) => !text.includes(`\`${c}\``));
    assert.deepEqual(missing, [], `codes missing from docs/errors.md: run \`${DOCS_COMMAND}\``);
  }
});
