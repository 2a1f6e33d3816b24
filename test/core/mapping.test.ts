/**
 * Identity mapping tables, pure (issue #5): lookups both ways, the one-to-one rule, the error
 * texts, and the CSV and YAML formats (quoting, byte order mark, CRLF), with a property test that
 * export → import gives the table back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  countChanges,
  flattenEntries,
  formatCsv,
  formatYaml,
  MappingIndex,
  parseCsv,
  parseYaml,
  readDocument,
  validateTable,
  type MappingEntry,
  type MappingKind,
  type ParsedTable,
} from '../../src/core/mapping.ts';
import { isMwError, type MwError } from '../../src/errors.ts';

const UOM: MappingEntry[] = [
  { ours: 'KGM', theirs: 'KG' },
  { ours: 'H87', theirs: 'PC', note: 'piece' },
  { ours: 'LTR', theirs: 'L' },
];

/** The MwError a function throws. */
function thrown(fn: () => unknown): MwError {
  try {
    fn();
  } catch (err) {
    if (isMwError(err)) return err;
    throw err;
  }
  assert.fail('expected an MwError');
}

const rows = (entries: readonly MappingEntry[]): ParsedTable =>
  readDocument({ entries }, (i) => `entries[${i}]`);

describe('lookups', () => {
  const index = new MappingIndex({ system: 'erp', kind: 'uom', entries: UOM });

  it('map both ways', () => {
    assert.equal(index.toTheirs('KGM'), 'KG');
    assert.equal(index.toTheirs('H87'), 'PC');
    assert.equal(index.toOurs('PC'), 'H87');
    assert.equal(index.toOurs('L'), 'LTR');
  });

  it('never pass an unknown code through, and name the code, the system and the kind', () => {
    const material = new MappingIndex({
      system: 'erp',
      kind: 'material',
      entries: [{ ours: 'MAT-1', theirs: '4711' }],
    });
    const e = thrown(() => material.toOurs('MAT-77'));
    assert.equal(e.code, 'MW_ERR_MAPPING_UNKNOWN_CODE');
    assert.equal(e.status, 404);
    assert.equal(e.message, 'erp material code "MAT-77" has no mapping (table erp/material)');
    const ours = thrown(() => material.toTheirs('4711'));
    assert.equal(ours.message, 'our material code "4711" has no mapping (table erp/material)');
  });

  it('compare codes exactly: case and spaces matter', () => {
    assert.equal(thrown(() => index.toOurs('pc')).code, 'MW_ERR_MAPPING_UNKNOWN_CODE');
    assert.equal(thrown(() => index.toTheirs('KGM ')).code, 'MW_ERR_MAPPING_UNKNOWN_CODE');
  });
});

describe('validation', () => {
  it('accepts a one-to-one table and drops empty notes', () => {
    const entries = validateTable(
      'erp',
      'uom',
      readDocument(
        {
          entries: [
            { ours: 'KGM', theirs: 'KG', note: '' },
            { ours: 'H87', theirs: 'PC' },
          ],
        },
        (i) => `entries[${i}]`,
      ),
    );
    assert.deepEqual(entries, [
      { ours: 'KGM', theirs: 'KG' },
      { ours: 'H87', theirs: 'PC' },
    ]);
  });

  it('refuses a duplicate on either side, naming both rows', () => {
    const e = thrown(() =>
      validateTable(
        'erp',
        'uom',
        rows([...UOM, { ours: 'KGM', theirs: 'KGS' }, { ours: 'C62', theirs: 'PC' }]),
      ),
    );
    assert.equal(e.code, 'MW_ERR_MAPPING_INVALID');
    assert.equal(e.status, 400);
    assert.deepEqual(e.details, [
      'entries[3]: duplicate ours "KGM" (also on entries[0])',
      'entries[4]: duplicate theirs "PC" (also on entries[1])',
    ]);
    assert.equal(
      e.message,
      'mapping table erp/uom: entries[3]: duplicate ours "KGM" (also on entries[0]) (and 1 more problem(s), listed in details)',
    );
  });

  it('names the rule broken by each field', () => {
    const e = thrown(() =>
      validateTable(
        'erp',
        'material',
        readDocument(
          {
            entries: [
              { ours: '', theirs: 'A' },
              { ours: 'B ', theirs: 'B' },
              { ours: 'C', theirs: 12 },
              { ours: 'D\tE', theirs: 'D' },
              { ours: 'F', theirs: 'x'.repeat(201) },
              { ours: 'G' },
              { ours: 'H', theirs: 'H', colour: 'red' },
            ],
          },
          (i) => `entries[${i}]`,
        ),
      ),
    );
    assert.deepEqual(e.details, [
      'entries[6]: unknown key "colour" (allowed: ours, theirs, note)',
      'entries[0]: ours is empty',
      'entries[1]: ours "B " starts or ends with a space',
      'entries[2]: theirs must be a string (got number 12; quote it)',
      'entries[3]: ours "D\\tE" contains a control character (tab, line break …)',
      'entries[4]: theirs is longer than 200 characters',
      'entries[5]: theirs is missing',
    ]);
  });

  it('applies the check of ours of a kind', () => {
    const e = thrown(() =>
      validateTable('mes2', 'equipment', rows([{ ours: 'acme/nowhere', theirs: 'WC-1' }]), (id) =>
        id.startsWith('acme/plant1') ? null : 'is not an equipment id of the hierarchy',
      ),
    );
    assert.equal(
      e.message,
      'mapping table mes2/equipment: entries[0]: ours "acme/nowhere" is not an equipment id of the hierarchy',
    );
  });

  it('refuses a document naming another table', () => {
    const e = thrown(() =>
      validateTable(
        'erp',
        'uom',
        readDocument({ system: 'lims', kind: 'uom', entries: [] }, String),
      ),
    );
    assert.equal(
      e.message,
      'mapping table erp/uom: system is "lims", but the table written is erp/uom',
    );
  });
});

describe('changes for the audit trail', () => {
  it('list only the entries added, removed or changed', () => {
    const before: MappingEntry[] = [
      { ours: 'MAT-1', theirs: 'X' },
      { ours: 'MAT-2', theirs: 'B', note: 'old' },
      { ours: 'MAT-3', theirs: 'C' },
    ];
    const after: MappingEntry[] = [
      { ours: 'MAT-1', theirs: 'Y' },
      { ours: 'MAT-2', theirs: 'B', note: 'new' },
      { ours: 'MAT-4', theirs: 'D' },
    ];
    assert.deepEqual(countChanges(before, after), { added: 1, removed: 1, changed: 2 });
    assert.deepEqual(flattenEntries(after), {
      'entries.MAT-1': 'Y',
      'entries.MAT-2': 'B',
      'notes.MAT-2': 'new',
      'entries.MAT-4': 'D',
    });
    assert.deepEqual(countChanges(undefined, after), { added: 3, removed: 0, changed: 0 });
  });
});

describe('CSV', () => {
  it('reads quoting, doubled quotes, line breaks in quotes, a BOM and CRLF', () => {
    const text =
      '\uFEFFours,theirs,note\r\n' +
      'KGM,KG,\r\n' +
      '"H87","PC","piece, ""each"""\r\n' +
      '\r\n' +
      'LTR,L,"two\r\nlines"\r\n' +
      'MTR,M,last line without a break';
    const parsed = parseCsv(text);
    assert.deepEqual(parsed.issues, []);
    assert.deepEqual(
      parsed.rows.map((r) => r.at),
      ['line 2', 'line 3', 'line 5', 'line 7'],
    );
    assert.deepEqual(validateTable('erp', 'uom', parsed), [
      { ours: 'KGM', theirs: 'KG' },
      { ours: 'H87', theirs: 'PC', note: 'piece, "each"' },
      { ours: 'LTR', theirs: 'L', note: 'two\r\nlines' },
      { ours: 'MTR', theirs: 'M', note: 'last line without a break' },
    ]);
  });

  it('reads LF files, columns in any order, and no note column', () => {
    const parsed = parseCsv('theirs,ours\nKG,KGM\nPC,H87\n');
    assert.deepEqual(validateTable('erp', 'uom', parsed), [
      { ours: 'KGM', theirs: 'KG' },
      { ours: 'H87', theirs: 'PC' },
    ]);
  });

  it('names the line of a duplicate and of the row it repeats', () => {
    const e = thrown(() =>
      validateTable('erp', 'uom', parseCsv('ours,theirs,note\nH87,PC,\nKGM,KG,\nC62,PC,\n')),
    );
    assert.equal(
      e.message,
      'mapping table erp/uom: line 4: duplicate theirs "PC" (also on line 2)',
    );
  });

  it('names the line of each broken record, and counts lines inside quotes', () => {
    const text = [
      'ours,theirs,note',
      'A,1,"a',
      'b"', // line 3 ends the quoted note that began on line 2
      'B,2',
      'C,3,x,y',
      'D,"4"x,',
      'E,5 "inch",',
      'F,"6,',
    ].join('\n');
    const e = thrown(() => validateTable('erp', 'material', parseCsv(text)));
    assert.deepEqual(e.details, [
      'line 6: text after the closing quote of a field (a quote inside a field is written "")',
      'line 7: a quote inside an unquoted field (quote the whole field and double the quote: "a""b")',
      'line 8: a quoted field is not closed (a " is missing)',
      'line 4: 2 field(s), but the header has 3 (a comma inside a code must be quoted)',
      'line 5: 4 field(s), but the header has 3 (a comma inside a code must be quoted)',
    ]);
  });

  it('names a wrong header', () => {
    assert.deepEqual(parseCsv('ours;theirs;note\nA;B;\n').issues, [
      'line 1: unknown column "ours;theirs;note" (the header is "ours,theirs,note"; the separator is a comma, not a semicolon)',
      'line 1: the header has no column ours or theirs (it must be "ours,theirs,note")',
    ]);
    assert.deepEqual(parseCsv('').issues, ['line 1: the header "ours,theirs,note" is missing']);
  });

  it('writes RFC 4180 with CRLF and quotes where needed', () => {
    assert.equal(
      formatCsv([
        { ours: 'H87', theirs: 'PC', note: 'piece, "each"' },
        { ours: 'KGM', theirs: 'KG' },
      ]),
      'ours,theirs,note\r\nH87,PC,"piece, ""each"""\r\nKGM,KG,\r\n',
    );
  });
});

describe('YAML', () => {
  it('reads every scalar as text, and names the line of an entry', () => {
    const text = [
      'system: erp',
      'kind: material',
      'entries:',
      '  - { ours: MAT-1, theirs: 0012 }',
      '  - ours: MAT-2',
      '    theirs: NO',
      '    note: yes',
      '  - { ours: MAT-3, theirs: 0012 }',
    ].join('\n');
    const parsed = parseYaml(text);
    const e = thrown(() => validateTable('erp', 'material', parsed));
    assert.equal(
      e.message,
      'mapping table erp/material: line 8: duplicate theirs "0012" (also on line 4)',
    );
    assert.deepEqual(
      validateTable('erp', 'material', { ...parsed, rows: parsed.rows.slice(0, 2) }),
      [
        { ours: 'MAT-1', theirs: '0012' },
        { ours: 'MAT-2', theirs: 'NO', note: 'yes' },
      ],
    );
  });

  it('reads a BOM, CRLF, a reason and a version', () => {
    const parsed = parseYaml(
      '\uFEFFversion: 3\r\nreason: CR-12\r\nentries:\r\n  - ours: A\r\n    theirs: B\r\n',
    );
    assert.equal(parsed.version, 3);
    assert.equal(parsed.reason, 'CR-12');
    assert.deepEqual(validateTable('erp', 'reason', parsed), [{ ours: 'A', theirs: 'B' }]);
  });

  it('names a syntax error by its line', () => {
    const parsed = parseYaml('entries:\n  - ours: A\n    theirs: [B\n');
    assert.match(parsed.issues[0] ?? '', /^line \d+: YAML syntax error: /);
  });

  it('writes double-quoted values, so YAML 1.1 readers keep codes as text', () => {
    assert.equal(
      formatYaml({ system: 'erp', kind: 'uom', entries: [{ ours: 'H87', theirs: 'NO' }] }, 2),
      '# Millwright mapping table erp/uom, version 2 (our UN/CEFACT Recommendation 20 unit code ↔ their unit text)\n' +
        'system: "erp"\nkind: "uom"\nentries:\n  - ours: "H87"\n    theirs: "NO"\n',
    );
  });
});

describe('export → import', () => {
  // Codes: any text without control characters and without spaces at either end.
  const codeArb = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
    .map((s) => s.replace(/\p{Cc}/gu, '').trim())
    .filter((s) => s !== '');
  const special = fc.constantFrom('a,b', '"q"', 'NO', '0012', '#x', '- y', 'null', '~', ': z', "'");
  const tableArb = fc
    .uniqueArray(
      fc.record(
        {
          ours: fc.oneof(codeArb, special),
          theirs: fc.oneof(codeArb, special),
          note: fc.oneof(
            fc.string({ unit: 'grapheme', minLength: 1 }),
            special,
            fc.constant('a\r\nb\rc\nd'),
          ),
        },
        { requiredKeys: ['ours', 'theirs'] },
      ),
      { selector: (e) => e.ours, maxLength: 30 },
    )
    .map((entries) => {
      const seen = new Set<string>();
      // fast-check's records have no prototype; the parsers return plain objects.
      return entries
        .filter((e) => !seen.has(e.theirs) && seen.add(e.theirs))
        .map((e): MappingEntry => ({ ...e }));
    });
  const kinds: MappingKind[] = ['material', 'equipment', 'reason', 'uom'];

  it('CSV gives the table back', () => {
    fc.assert(
      fc.property(tableArb, fc.constantFrom(...kinds), (entries, kind) => {
        assert.deepEqual(validateTable('erp', kind, parseCsv(formatCsv(entries))), entries);
      }),
      { numRuns: 300 },
    );
  });

  it('YAML gives the table back', () => {
    fc.assert(
      fc.property(tableArb, fc.constantFrom(...kinds), (entries, kind) => {
        const text = formatYaml({ system: 'erp', kind, entries }, 1);
        assert.deepEqual(validateTable('erp', kind, parseYaml(text)), entries);
      }),
      { numRuns: 300 },
    );
  });
});
