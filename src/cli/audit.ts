/**
 * `millwright audit verify|export`: the audit trail straight from the configured store (run on
 * the hub machine; 21 CFR 11.10(b) copies and 11.10(e) integrity).
 */
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  actorFilter,
  AUDIT_EXPORT_FORMATS,
  auditExportLines,
  type AuditExportFormat,
} from '../compliance/audit-export.ts';
import { timeParam } from '../server/schemas.ts';
import type { Store } from '../store/types.ts';
import { UsageError } from './prompt.ts';
import { withStore } from './with-store.ts';

/** A time option: ISO 8601 or epoch ms, the same rule as the API's `from`/`to`. */
function parseTime(value: string): number {
  const result = timeParam.safeParse(value);
  if (!result.success)
    throw new InvalidArgumentError(result.error.issues[0]?.message ?? 'expected a time');
  return result.data;
}

interface AuditExportCliOptions {
  config: string;
  dataDir?: string;
  format: AuditExportFormat;
  out?: string;
  entity?: string;
  id?: string;
  user?: string;
  from?: number;
  to?: number;
}

/** Progress on stderr every this many rows of a long export. */
const AUDIT_EXPORT_PROGRESS_ROWS = 100_000;

/**
 * Write the export to --out (through FILE.partial, renamed when complete, so an interrupted
 * export never looks like a complete copy) or to stdout; the summary goes to stderr.
 */
async function exportAudit(store: Store, opts: AuditExportCliOptions): Promise<void> {
  let rows = 0;
  const lines = auditExportLines((query) => store.listAudit(query), {
    format: opts.format,
    filter: {
      entityType: opts.entity,
      entityId: opts.id,
      actor: opts.user === undefined ? undefined : actorFilter(opts.user),
      fromAt: opts.from,
      toAt: opts.to,
    },
    onRow: (n) => {
      rows = n;
      if (n % AUDIT_EXPORT_PROGRESS_ROWS === 0) console.error(`… ${n} audit row(s) exported`);
    },
  });
  const source = Readable.from(lines, { objectMode: false });
  if (opts.out === undefined) {
    await pipeline(source, process.stdout, { end: false });
  } else {
    const partial = `${opts.out}.partial`;
    try {
      await pipeline(source, createWriteStream(partial));
      renameSync(partial, opts.out);
    } catch (err) {
      rmSync(partial, { force: true });
      throw err;
    }
  }
  console.error(`exported ${rows} audit row(s) to ${opts.out ?? 'standard output'}`);
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit trail');
  audit
    .command('verify')
    .description(
      "walk the audit trail's hash chain: ok with the row count, or the first broken row and why (exit 1)",
    )
    .requiredOption('-c, --config <file>', 'configuration file (YAML) naming the store')
    .option('-d, --data-dir <dir>', 'data folder (overrides dataDir)')
    .option(
      '--expect <seq:hash>',
      'a head printed by an earlier verify: fail unless that row is still there with that hash (detects rows removed from the end)',
    )
    .action(async (opts: { config: string; dataDir?: string; expect?: string }) => {
      const expected =
        opts.expect === undefined ? undefined : /^(\d+):([0-9a-f]{64})$/.exec(opts.expect);
      if (expected === null) {
        throw new UsageError('--expect: expected SEQ:HASH as printed by an earlier `audit verify`');
      }
      await withStore(opts, async (store) => {
        const started = Date.now();
        const result = await store.verifyAudit();
        const took = `${((Date.now() - started) / 1000).toFixed(1)} s`;
        const rowAt = async (seq: number) =>
          seq < 1 ? undefined : (await store.listAudit({ afterSeq: seq - 1, limit: 1 }))[0];
        if (result.ok) {
          // The chain proves order and content, not that nothing was cut off its end: an
          // anchor kept elsewhere (this head, in a ticket or a log shipped off the machine) does.
          const head = await rowAt(result.count);
          console.log(
            `ok: ${result.count} audit row(s) verified in ${took} (${store.kind} ${store.location})`,
          );
          if (head !== undefined) console.log(`head: ${head.seq}:${head.hash}`);
          if (expected !== undefined) {
            const seq = Number(expected[1]);
            const row = await rowAt(seq);
            const problem =
              row?.seq !== seq
                ? `expected row ${seq} is missing: rows were removed from the end of the trail`
                : row.hash !== expected[2]
                  ? `row ${seq} does not have the expected hash: the trail was rewritten from there`
                  : null;
            if (problem !== null) {
              console.error(`broken: ${problem}`);
              process.exitCode = 1;
            } else {
              console.log(`expected head ${seq} found with its hash`);
            }
          }
        } else {
          console.error(
            `broken at audit row ${result.seq}: ${result.reason} (${result.count} row(s) before it verified, ${store.kind} ${store.location})`,
          );
          process.exitCode = 1;
        }
      });
    });

  audit
    .command('export')
    .description(
      'copy the audit trail, or the rows matching the filters, oldest first, as CSV or JSON (21 CFR 11.10(b))',
    )
    .requiredOption('-c, --config <file>', 'configuration file (YAML) naming the store')
    .option('-d, --data-dir <dir>', 'data folder (overrides dataDir)')
    .addOption(
      new Option('--format <format>', 'csv (human readable) or json')
        .choices(AUDIT_EXPORT_FORMATS)
        .default('csv'),
    )
    .option('-o, --out <file>', 'write to this file (default: standard output)')
    .option('--entity <type>', 'only rows about this entity type')
    .option('--id <id>', 'only rows about this entity id')
    .option(
      '--user <actor>',
      'only rows by this user name (alice) or full actor (token:<id>, connection:<id>, cli:<name>, system)',
    )
    .option('--from <time>', 'only rows at or after this time (ISO 8601 or epoch ms)', parseTime)
    .option('--to <time>', 'only rows before this time (ISO 8601 or epoch ms)', parseTime)
    .action(async (opts: AuditExportCliOptions) => {
      await withStore(opts, (store) => exportAudit(store, opts));
    });
}
