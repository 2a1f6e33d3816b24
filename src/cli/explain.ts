/**
 * `millwright explain UNIT`: why a work unit is in the state it is in — its state and reason,
 * and for each binding that feeds it the last reading of each input and the value derived
 * (GET /api/v1/bindings?equipment=UNIT of a running hub).
 */
import type { Command } from 'commander';
import { baseUrl, getJson, hubToken, type HubAddress } from './hub-client.ts';
import { UsageError } from './prompt.ts';

interface Explained {
  unit: { id: string; state: string; reasonCode: string | null; since: string | null } | null;
  items: {
    index: number;
    connection: string;
    topic: string | null;
    inputs: Record<string, string> | null;
    expression: string | null;
    meaning: string;
    units: {
      equipmentId: string;
      inputs: Record<
        string,
        { tag: string; value: unknown; quality: string; status: string | null; at: string | null }
      >;
      output: unknown;
      outputAt: string | null;
      error: string | null;
    }[];
  }[];
}

const shown = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

export function renderExplanation(unitId: string, e: Explained): string {
  if (e.unit === null) throw new UsageError(`${unitId} is not a work unit of this hub`);
  const lines = [
    `${e.unit.id}: ${e.unit.state}${e.unit.reasonCode === null ? '' : ` (${e.unit.reasonCode})`}${e.unit.since === null ? '' : ` since ${e.unit.since}`}`,
  ];
  if (e.items.length === 0) lines.push('  no binding has read anything for this unit yet');
  for (const b of e.items) {
    for (const u of b.units) {
      const source =
        b.topic ??
        Object.entries(b.inputs ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(', ');
      lines.push(`  bindings[${b.index}] ${b.meaning} from ${b.connection}: ${source}`);
      if (b.expression !== null) lines.push(`    expression  ${b.expression}`);
      for (const [name, i] of Object.entries(u.inputs)) {
        lines.push(
          `    ${name.padEnd(10)}  ${shown(i.value)} ${i.quality}${i.status === null ? '' : ` (${i.status})`} at ${i.at ?? '?'}  [${i.tag}]`,
        );
      }
      lines.push(`    → ${shown(u.output)}${u.outputAt === null ? '' : ` at ${u.outputAt}`}`);
      if (u.error !== null) lines.push(`    last reading refused: ${u.error}`);
    }
  }
  return lines.join('\n');
}

export function registerExplainCommand(program: Command): void {
  program
    .command('explain <unit>')
    .description(
      'why a work unit is in its state: the readings of its bindings and what they derived (token in MILLWRIGHT_TOKEN)',
    )
    .option(
      '-c, --config <file>',
      'configuration file (YAML): the hub’s address is taken from http',
    )
    .option('--url <url>', 'base URL of the hub instead of -c')
    .action(async (unit: string, opts: HubAddress) => {
      const token = hubToken('equipment.read');
      const base = baseUrl(opts);
      const e = await getJson<Explained>(
        `${base}/api/v1/bindings?equipment=${encodeURIComponent(unit)}`,
        token,
      );
      console.log(renderExplanation(unit, e));
    });
}
