/** PostgreSQL's time texts as the SQL connector reads them (a timestamptz bug found by bench:sql). */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import pg from 'pg';
import { pgTimeToIso } from '../../src/connectors/sql/driver.ts';
import { PG_URL, serviceSkip } from '../helpers/services.ts';

it('reads zones written as +00, -03 and +05:30', () => {
  assert.equal(
    Date.parse(pgTimeToIso('2026-11-26 08:00:00.123+00')),
    Date.parse('2026-11-26T08:00:00.123Z'),
  );
  assert.equal(
    Date.parse(pgTimeToIso('2026-11-26 05:00:00-03')),
    Date.parse('2026-11-26T08:00:00Z'),
  );
  assert.equal(
    Date.parse(pgTimeToIso('2026-11-26 13:30:00+05:30')),
    Date.parse('2026-11-26T08:00:00Z'),
  );
});

const skip = await serviceSkip('PostgreSQL', PG_URL);
it('reads what PostgreSQL itself writes for a timestamptz', { skip }, async () => {
  const c = new pg.Client(PG_URL);
  await c.connect();
  try {
    await c.query("SET TIME ZONE 'America/Sao_Paulo'");
    const r = await c.query<{ t: string }>(
      "SELECT (TIMESTAMPTZ '2026-11-26 08:00:00.5+00')::text AS t",
    );
    assert.equal(Date.parse(pgTimeToIso(r.rows[0]!.t)), Date.parse('2026-11-26T08:00:00.500Z'));
  } finally {
    await c.end();
  }
});
