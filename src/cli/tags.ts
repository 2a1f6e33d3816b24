/**
 * `millwright tags`: the latest value of every tag of a running hub, read from its HTTP API
 * (GET /api/v1/connections/{id}/tags) with an API token or session from MILLWRIGHT_TOKEN;
 * `--watch` redraws it every interval.
 */
import type { Command } from 'commander';
import { baseUrl, getJson, hubToken } from './hub-client.ts';
import { UsageError } from './prompt.ts';
import { columns } from './columns.ts';

interface TagRow {
  tag: string;
  value: unknown;
  quality: string;
  status: string | null;
  sourceTs: string | null;
  equipmentId: string | null;
}

interface Options {
  config?: string;
  url?: string;
  connection?: string;
  watch?: boolean;
  interval: string;
}

const shown = (v: unknown): string =>
  v === null ? '—' : typeof v === 'string' ? v : JSON.stringify(v);

/** One screen: a line per tag, aligned. */
export function renderTags(
  rows: readonly (TagRow & { connection: string })[],
  now: number,
): string {
  const lines = rows.map((r) => {
    const age =
      r.sourceTs === null
        ? ''
        : `${Math.max(0, (now - Date.parse(r.sourceTs)) / 1000).toFixed(1)} s ago`;
    return [
      r.connection,
      r.tag,
      shown(r.value),
      r.quality + (r.status ? ` (${r.status})` : ''),
      age,
    ];
  });
  const header = ['CONNECTION', 'TAG', 'VALUE', 'QUALITY', 'AGE'];
  return [...columns(header, lines), `${rows.length} tag(s)`].join('\n');
}

export function registerTagsCommand(program: Command): void {
  program
    .command('tags')
    .description(
      'show the latest value, quality and age of every tag of a running hub (token in MILLWRIGHT_TOKEN)',
    )
    .option(
      '-c, --config <file>',
      'configuration file (YAML): the hub’s address is taken from http',
    )
    .option('--url <url>', 'base URL of the hub instead of -c, e.g. http://127.0.0.1:8080')
    .option('--connection <id>', 'only this connection')
    .option('-w, --watch', 'redraw until Ctrl+C')
    .option('--interval <seconds>', 'seconds between redraws with --watch', '1')
    .action(async (opts: Options) => {
      const token = hubToken('connections.read');
      const interval = Number(opts.interval);
      if (!Number.isFinite(interval) || interval <= 0) {
        throw new UsageError(
          `--interval: expected a number of seconds above 0, got "${opts.interval}"`,
        );
      }
      const base = baseUrl(opts);
      const screen = async (): Promise<string> => {
        const { items } = await getJson<{ items: { id: string }[] }>(
          `${base}/api/v1/connections`,
          token,
        );
        const ids = opts.connection === undefined ? items.map((c) => c.id) : [opts.connection];
        const rows: (TagRow & { connection: string })[] = [];
        for (const id of ids) {
          const tags = await getJson<{ items: TagRow[] }>(
            `${base}/api/v1/connections/${encodeURIComponent(id)}/tags`,
            token,
          );
          rows.push(...tags.items.map((t) => ({ ...t, connection: id })));
        }
        return renderTags(rows, Date.now());
      };
      if (opts.watch !== true) {
        console.log(await screen());
        return;
      }
      for (;;) {
        const text = await screen();
        // Clear and home on a terminal; a separator line when piped.
        process.stdout.write(process.stdout.isTTY ? `\x1b[2J\x1b[H${text}\n` : `${text}\n---\n`);
        await new Promise((r) => setTimeout(r, interval * 1000));
      }
    });
}
