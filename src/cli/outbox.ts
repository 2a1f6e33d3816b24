/**
 * `millwright outbox list|show|replay|discard` and `millwright orders list|import`: the ERP side
 * of a running hub from the command line, through its HTTP API (token in MILLWRIGHT_TOKEN or
 * --token; docs/erp.md). Replay and discard ask for a reason: it goes into the audit trail.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ORDER_STATUSES } from '../model/index.ts';
import { OUTBOX_STATUSES } from '../store/types.ts';
import { columns } from './columns.ts';
import { baseUrl, hubGetJson, hubRequest, hubTokenOrOption } from './hub-client.ts';
import { UsageError } from './prompt.ts';

interface HubOptions {
  config?: string;
  url?: string;
  token?: string;
}

interface OutboxItem {
  id: number;
  target: string;
  type: string;
  orderId: string;
  status: string;
  attempts: number;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

const hubOptions = (cmd: Command): Command =>
  cmd
    .option(
      '-c, --config <file>',
      'configuration file (YAML): the hub’s address is taken from http',
    )
    .option('--url <url>', 'base URL of the hub instead of -c, e.g. http://127.0.0.1:8080')
    .option('--token <token>', 'API token or session (default: MILLWRIGHT_TOKEN)');

const iso = (ms: number | null): string => (ms === null ? '' : new Date(ms).toISOString());

async function listOutbox(
  opts: HubOptions & { status?: string; target?: string; order?: string; limit: string },
): Promise<void> {
  const token = hubTokenOrOption(opts.token, 'outbox.read');
  const q = new URLSearchParams({ limit: opts.limit });
  if (opts.status !== undefined) q.set('status', opts.status);
  if (opts.target !== undefined) q.set('target', opts.target);
  if (opts.order !== undefined) q.set('order', opts.order);
  const page = await hubGetJson<{
    items: OutboxItem[];
    counts: Record<string, Record<string, number>>;
  }>(`${baseUrl(opts)}/api/v1/outbox?${q}`, token);
  for (const [target, c] of Object.entries(page.counts))
    console.log(
      `${target}: ${c.pending ?? 0} pending, ${c.delivered ?? 0} delivered, ${c.dead ?? 0} dead, ${c.discarded ?? 0} discarded`,
    );
  if (page.items.length === 0) {
    console.log('no messages match');
    return;
  }
  const rows = page.items.map((m) => [
    String(m.id),
    m.target,
    m.orderId,
    m.type,
    m.status,
    String(m.attempts),
    iso(m.createdAt),
    (m.lastError ?? '').slice(0, 80),
  ]);
  console.log(
    columns(
      ['ID', 'TARGET', 'ORDER', 'TYPE', 'STATUS', 'TRIES', 'WRITTEN', 'LAST ERROR'],
      rows,
    ).join('\n'),
  );
}

async function showOutbox(id: string, opts: HubOptions): Promise<void> {
  const token = hubTokenOrOption(opts.token, 'outbox.read');
  const row = await hubGetJson<unknown>(
    `${baseUrl(opts)}/api/v1/outbox/${encodeURIComponent(id)}`,
    token,
  );
  console.log(JSON.stringify(row, null, 2));
}

async function decide(
  decision: 'replay' | 'discard',
  ids: string[],
  opts: HubOptions & { reason?: string },
): Promise<void> {
  if (opts.reason === undefined || opts.reason.trim() === '')
    throw new UsageError(
      `give --reason: why the message is ${decision}ed (recorded in the audit trail)`,
    );
  const token = hubTokenOrOption(opts.token, 'outbox.manage');
  for (const id of ids) {
    await hubRequest(
      `${baseUrl(opts)}/api/v1/outbox/${encodeURIComponent(id)}/${decision}`,
      token,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ reason: opts.reason }),
      },
    );
    console.log(`outbox message ${id}: ${decision === 'replay' ? 'pending again' : 'discarded'}`);
  }
}

interface OrderItem {
  id: string;
  status: string;
  material: string;
  quantity: string;
  uom: string;
  produced: { good: string; scrap: string };
}

async function listOrders(opts: HubOptions & { status?: string; limit: string }): Promise<void> {
  const token = hubTokenOrOption(opts.token, 'orders.read');
  const q = new URLSearchParams({ limit: opts.limit });
  if (opts.status !== undefined) q.set('status', opts.status);
  const page = await hubGetJson<{ items: OrderItem[] }>(
    `${baseUrl(opts)}/api/v1/orders?${q}`,
    token,
  );
  if (page.items.length === 0) {
    console.log('no orders match');
    return;
  }
  const rows = page.items.map((o) => [
    o.id,
    o.status,
    o.material,
    `${o.produced.good} / ${o.quantity} ${o.uom}`,
    o.produced.scrap,
  ]);
  console.log(columns(['ORDER', 'STATUS', 'MATERIAL', 'GOOD / PLANNED', 'SCRAP'], rows).join('\n'));
}

const CONTENT_TYPES: Record<string, string> = {
  xml: 'application/xml',
  csv: 'text/csv',
  json: 'application/json',
};

async function importOrders(file: string, opts: HubOptions & { system?: string }): Promise<void> {
  const ext = file.toLowerCase().split('.').at(-1) ?? '';
  const type = CONTENT_TYPES[ext];
  if (type === undefined)
    throw new UsageError(`${file}: expected a .xml (B2MML), .csv or .json file`);
  let body: Buffer;
  try {
    body = readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const token = hubTokenOrOption(opts.token, 'orders.import');
  const q = opts.system === undefined ? '' : `?system=${encodeURIComponent(opts.system)}`;
  const path = ext === 'xml' ? '/api/v1/b2mml' : '/api/v1/orders';
  const answer = await hubRequest(`${baseUrl(opts)}${path}${q}`, token, {
    method: 'POST',
    headers: { 'content-type': type },
    body: new Uint8Array(body),
  });
  const result = JSON.parse(answer.body.toString('utf8')) as {
    orders: { id: string; outcome: string }[];
    materials: number;
    lots: number;
  };
  for (const o of result.orders) console.log(`order ${o.id}: ${o.outcome}`);
  console.log(
    `${file}: ${result.orders.length} order(s), ${result.materials} material(s), ${result.lots} lot(s) imported`,
  );
}

export function registerOutboxCommands(program: Command): void {
  const outbox = program
    .command('outbox')
    .description(
      'messages to the enterprise targets of a running hub: list, show, replay, discard (docs/erp.md)',
    );
  hubOptions(
    outbox
      .command('list')
      .description('counts per target and the newest messages (outbox.read)')
      .addOption(new Option('--status <status>', 'only this status').choices(OUTBOX_STATUSES))
      .option('--target <id>', 'only this target')
      .option('--order <id>', 'only this order’s messages')
      .option('--limit <n>', 'at most this many', '50'),
  ).action(listOutbox);
  hubOptions(
    outbox
      .command('show')
      .description('one message with its payload (outbox.read)')
      .argument('<id>'),
  ).action(showOutbox);
  for (const decision of ['replay', 'discard'] as const)
    hubOptions(
      outbox
        .command(decision)
        .description(
          decision === 'replay'
            ? 'deliver dead messages again, in order before the ones of their order behind them (outbox.manage)'
            : 'give up dead messages for good, letting the ones behind them go (outbox.manage)',
        )
        .argument('<id...>', 'outbox message ids (outbox list --status dead)')
        .option('--reason <text>', 'why (required; recorded in the audit trail)'),
    ).action((ids: string[], opts: HubOptions & { reason?: string }) =>
      decide(decision, ids, opts),
    );

  const orders = program
    .command('orders')
    .description('work orders of a running hub: list, import (docs/erp.md)');
  hubOptions(
    orders
      .command('list')
      .description('orders with their progress (orders.read)')
      .addOption(new Option('--status <status>', 'only this status').choices(ORDER_STATUSES))
      .option('--limit <n>', 'at most this many', '100'),
  ).action(listOrders);
  hubOptions(
    orders
      .command('import')
      .description(
        'import a B2MML (.xml), CSV or JSON file of orders, as an ERP would (orders.import)',
      )
      .argument('<file>')
      .option(
        '--system <id>',
        'the mapping system of the file’s codes (default: config orders.system)',
      ),
  ).action(importOrders);
}
