/**
 * Modbus TCP client: reads the tags of the devices (unit ids) behind one TCP endpoint in poll
 * groups, sends them to the core as decoded samples, and writes coils and holding registers.
 *
 * - One socket per connection; requests of different devices are pipelined on it by
 *   transaction id (see link.ts). Each device has its own bounded queue with one request in
 *   flight, so a slow or dead unit id delays only itself: the others keep their scan rate.
 * - Reads are coalesced into blocks (plan.ts); an exception or timeout marks exactly the tags of
 *   its block bad, with the exception code and its meaning in `status`.
 * - A sample is sent when its value, quality or status changed, or `heartbeat` after it was last
 *   sent.
 * - A lost socket marks every tag bad ("stale: connection lost") once, and the connection is
 *   opened again with the connection's backoff (`reconnect`).
 */
import type { ModbusConnectionConfig } from '../../config/schema.ts';
import { backoffOf } from '../../config/common.ts';
import { withBackoff } from '../../core/backoff.ts';
import type {
  ConnectionStatus,
  ConnectionTestResult,
  ConnectorContext,
  ConnectorDefinition,
  ConnectorHealth,
  ConnectorInstance,
  ConnectorMetric,
} from '../../core/connector.ts';
import type { SampleInput } from '../../core/ingest-types.ts';
import { MwError } from '../../errors.ts';
import type { Quality, TagValue } from '../../model/index.ts';
import { decodeRegisters, encodeRegisters, registersOf, toCoil } from './codec.ts';
import { isBitTable, modbusConnectionSchema } from './config.ts';
import { ModbusLink, ModbusRequestError, type Send } from './link.ts';
import { planBlocks, type PlannedTag, type ReadBlock } from './plan.ts';

type DeviceConfig = ModbusConnectionConfig['devices'][number];

export const MODBUS_DEFAULTS = {
  /** Weight of the newest request in the latency average (exponential moving average). */
  latencyWeight: 0.2,
  /**
   * Timeouts in a row, with no answer of any kind on the socket, after which it is taken for
   * dead and opened again: this many per device, so one dead unit id among live ones never
   * triggers it (their answers reset the count).
   */
  silentTimeoutsPerDevice: 3,
} as const;

export const STALE_CONNECTION_LOST = 'stale: connection lost';

interface Job {
  /** Poll group of a read; null for a write. */
  readonly group: string | null;
  run(link: ModbusLink): Promise<void>;
  cancel(reason: string): void;
}

/** One device: its queue (one request in flight) and its figures. */
class Device {
  readonly jobs: Job[] = [];
  busy = false;
  /** Read jobs of each poll group waiting or running: a new scan starts only when it is 0. */
  readonly outstanding = new Map<string, number>();
  readonly blocks = new Map<string, ReadBlock[]>();
  latencyMs = 0;
  requests = 0;
  timeouts = 0;
  exceptions = 0;
  overruns = 0;

  constructor(readonly config: DeviceConfig) {}

  get queueLength(): number {
    return this.jobs.length + (this.busy ? 1 : 0);
  }
}

interface Sent {
  readonly value: TagValue;
  readonly quality: Quality;
  readonly status: string | null;
  readonly ts: number;
}

class ModbusConnector implements ConnectorInstance {
  readonly type = 'modbus';
  private status: ConnectionStatus = 'stopped';
  private detail: string | null = null;
  private lastDataTs: number | null = null;
  private reconnects = 0;
  private errors = 0;
  private link: ModbusLink | null = null;
  private abort: AbortController | null = null;
  private timers: NodeJS.Timeout[] = [];
  private silentTimeouts = 0;
  private connectedOnce = false;
  /** Why the connector itself closed the socket, for `detail`. */
  private lostReason: string | null = null;
  private readonly devices = new Map<number, Device>();
  private readonly tags = new Map<string, PlannedTag>();
  private readonly sent = new Map<string, Sent>();

  constructor(private readonly ctx: ConnectorContext<ModbusConnectionConfig>) {
    const c = ctx.config;
    const firstGroup = c.pollGroups[0]?.id ?? 'default';
    for (const d of c.devices) {
      const device = new Device(d);
      this.devices.set(d.unitId, device);
      const byGroupAndTable = new Map<string, PlannedTag[]>();
      for (const t of d.tags) {
        const bits = isBitTable(t.table);
        const type = t.type ?? 'uint16';
        const tag: PlannedTag = {
          name: t.name,
          unitId: d.unitId,
          table: t.table,
          address: t.address,
          size: bits ? 1 : registersOf(type, t.length),
          layout: bits
            ? null
            : {
                type,
                registers: registersOf(type, t.length),
                byteOrder: t.byteOrder ?? d.byteOrder,
                wordOrder: t.wordOrder ?? d.wordOrder,
                scale: t.scale ?? null,
                offset: t.offset ?? null,
              },
          pollGroup: t.poll ?? firstGroup,
        };
        this.tags.set(tag.name, tag);
        const key = `${tag.pollGroup}\u0000${tag.table}`;
        byGroupAndTable.set(key, [...(byGroupAndTable.get(key) ?? []), tag]);
      }
      for (const [key, tags] of byGroupAndTable) {
        const group = key.split('\u0000')[0] as string;
        device.blocks.set(group, [
          ...(device.blocks.get(group) ?? []),
          ...planBlocks(tags, c.maxGap),
        ]);
      }
    }
  }

  get id(): string {
    return this.ctx.config.id;
  }

  /** The read blocks of each device and poll group (for tests and troubleshooting). */
  plan(): ReadonlyMap<number, ReadonlyMap<string, readonly ReadBlock[]>> {
    return new Map([...this.devices].map(([unit, d]) => [unit, d.blocks]));
  }

  async start(): Promise<void> {
    this.status = 'connecting';
    this.abort = new AbortController();
    void this.connectLoop(this.abort.signal);
  }

  private get endpoint(): string {
    return `${this.ctx.config.host}:${this.ctx.config.port}`;
  }

  private async connectLoop(signal: AbortSignal): Promise<void> {
    const c = this.ctx.config;
    let link: ModbusLink;
    try {
      link = await withBackoff(
        backoffOf(c.reconnect),
        () => {
          if (this.connectedOnce) this.reconnects++;
          this.connectedOnce = true;
          this.status = 'connecting';
          return ModbusLink.open(c.host, c.port, c.connectTimeout, signal);
        },
        {
          signal,
          onFailure: (err, attempt, delayMs) => {
            this.errors++;
            this.status = 'disconnected';
            this.detail = `cannot connect to ${this.endpoint}: ${(err as Error).message}`;
            if (attempt === 0)
              this.ctx.logger.warn(
                { endpoint: this.endpoint, err: (err as Error).message, retryInMs: delayMs },
                'Modbus connection failed; retrying with backoff',
              );
            // One status whatever the reason (it is in health's detail), so tags go stale once.
            this.markAllBad(STALE_CONNECTION_LOST);
          },
        },
      );
    } catch {
      return; // stopped
    }
    if (signal.aborted) {
      link.close();
      return;
    }
    this.link = link;
    this.silentTimeouts = 0;
    this.status = 'connected';
    this.detail = null;
    this.ctx.logger.info({ endpoint: this.endpoint }, 'Modbus connected');
    link.onClose(() => this.lost(link, signal));
    for (const g of c.pollGroups) {
      this.scan(g.id);
      this.timers.push(setInterval(() => this.scan(g.id), g.every));
    }
  }

  /** The socket closed: every tag bad once, queues emptied, reconnect with backoff. */
  private lost(link: ModbusLink, signal: AbortSignal): void {
    if (this.link !== link) return;
    this.link = null;
    link.close();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const d of this.devices.values()) this.clearQueue(d, 'connection lost');
    if (signal.aborted) return;
    this.status = 'disconnected';
    this.detail = this.lostReason ?? `connection to ${this.endpoint} lost`;
    this.lostReason = null;
    this.ctx.logger.warn(
      { endpoint: this.endpoint, detail: this.detail },
      'Modbus connection lost',
    );
    this.markAllBad(STALE_CONNECTION_LOST);
    void this.connectLoop(signal);
  }

  private clearQueue(device: Device, reason: string): void {
    for (const job of device.jobs.splice(0)) job.cancel(reason);
    device.outstanding.clear();
  }

  /** Queue one scan of a poll group on every device that has tags in it. */
  private scan(group: string): void {
    if (this.link === null) return;
    for (const device of this.devices.values()) {
      const blocks = device.blocks.get(group);
      if (blocks === undefined || blocks.length === 0) continue;
      // The previous scan of this group has not finished (a slow or dead unit): skip this one
      // rather than let the queue grow.
      if (
        (device.outstanding.get(group) ?? 0) > 0 ||
        device.jobs.length + blocks.length > device.config.queueMax
      ) {
        device.overruns++;
        continue;
      }
      device.outstanding.set(group, blocks.length);
      for (const block of blocks) {
        device.jobs.push({
          group,
          run: (link) => this.readBlock(link, device, block),
          cancel: () => undefined,
        });
      }
      this.pump(device);
    }
  }

  /** Run the device's jobs one after the other. */
  private pump(device: Device): void {
    if (device.busy) return;
    const link = this.link;
    const job = device.jobs.shift();
    if (job === undefined || link === null) {
      if (job !== undefined) job.cancel('not connected');
      return;
    }
    device.busy = true;
    void job.run(link).finally(() => {
      device.busy = false;
      if (job.group !== null)
        device.outstanding.set(
          job.group,
          Math.max(0, (device.outstanding.get(job.group) ?? 1) - 1),
        );
      this.pump(device);
    });
  }

  /** One request with the device's timeout and retries (timeouts only). */
  private async request<T>(link: ModbusLink, device: Device, send: Send<T>): Promise<T> {
    const attempts = device.config.retries + 1;
    for (let n = 1; ; n++) {
      const t0 = performance.now();
      device.requests++;
      try {
        const res = await link.call(device.config.timeout, send);
        this.answered(device, t0);
        return res;
      } catch (err) {
        const e = err as ModbusRequestError;
        if (e.kind === 'exception') {
          this.answered(device, t0);
          device.exceptions++;
        }
        if (e.kind === 'timeout') {
          device.timeouts++;
          this.silentTimeouts++;
          if (this.silentTimeouts >= MODBUS_DEFAULTS.silentTimeoutsPerDevice * this.devices.size) {
            this.lostReason = `no answer on the connection for ${this.silentTimeouts} requests in a row; reopening it`;
            link.close(); // 'close' → lost() → reconnect
          }
          if (n < attempts && link.isOpen) continue;
          throw new ModbusRequestError(
            'timeout',
            `timeout: no answer from unit ${device.config.unitId} within ${device.config.timeout} ms (${attempts} attempt${attempts > 1 ? 's' : ''})`,
          );
        }
        throw e;
      }
    }
  }

  private answered(device: Device, t0: number): void {
    const ms = performance.now() - t0;
    const w = MODBUS_DEFAULTS.latencyWeight;
    device.latencyMs = device.requests <= 1 ? ms : device.latencyMs * (1 - w) + ms * w;
    this.silentTimeouts = 0;
  }

  private async readBlock(link: ModbusLink, device: Device, block: ReadBlock): Promise<void> {
    const unit = block.unitId;
    let data: { data: unknown[]; buffer: Buffer };
    try {
      data = await this.request(link, device, (client, cb) => {
        switch (block.table) {
          case 'coils':
            return client.writeFC1(unit, block.start, block.count, cb);
          case 'discreteInputs':
            return client.writeFC2(unit, block.start, block.count, cb);
          case 'holdingRegisters':
            return client.writeFC3(unit, block.start, block.count, cb);
          case 'inputRegisters':
            return client.writeFC4(unit, block.start, block.count, cb);
        }
      });
    } catch (err) {
      const e = err as ModbusRequestError;
      if (e.kind === 'closed' || this.link !== link) return; // lost() marks every tag
      this.errors++;
      this.detail = `unit ${unit} ${block.table} ${block.start}+${block.count}: ${e.message}`;
      const ts = Date.now();
      await this.emitAll(block.tags.map((tag) => [tag, null, 'bad', e.message, ts]));
      return;
    }
    const ts = Date.now();
    this.lastDataTs = ts;
    const out: [PlannedTag, TagValue, Quality, string | null, number][] = [];
    for (const tag of block.tags) {
      const at = tag.address - block.start;
      if (tag.layout === null) {
        const bit = data.data[at];
        out.push(
          typeof bit !== 'boolean'
            ? [tag, null, 'bad', `answer too short for bit ${tag.address}`, ts]
            : [tag, bit, 'good', null, ts],
        );
        continue;
      }
      try {
        const raw = data.buffer.subarray(at * 2, (at + tag.size) * 2);
        if (raw.length !== tag.size * 2)
          throw new Error(`answer too short for address ${tag.address}`);
        out.push([tag, decodeRegisters(raw, tag.layout), 'good', null, ts]);
      } catch (err) {
        out.push([tag, null, 'bad', `cannot decode: ${(err as Error).message}`, ts]);
      }
    }
    await this.emitAll(out);
  }

  /** Send the samples that changed (or are due for the heartbeat); resolves once accepted. */
  private async emitAll(
    samples: readonly (readonly [PlannedTag, TagValue, Quality, string | null, number])[],
  ): Promise<void> {
    const accepted: Promise<void>[] = [];
    for (const [tag, value, quality, status, ts] of samples) {
      const a = this.emit(tag.name, value, quality, status, ts);
      if (a !== null) accepted.push(a);
    }
    await Promise.all(accepted);
  }

  private emit(
    tag: string,
    value: TagValue,
    quality: Quality,
    status: string | null,
    ts: number,
  ): Promise<void> | null {
    const heartbeat = this.ctx.config.heartbeat;
    const prev = this.sent.get(tag);
    if (
      prev !== undefined &&
      heartbeat > 0 &&
      ts - prev.ts < heartbeat &&
      prev.value === value &&
      prev.quality === quality &&
      prev.status === status
    )
      return null;
    this.sent.set(tag, { value, quality, status, ts });
    const sample: SampleInput = {
      connectionId: this.ctx.config.id,
      tag,
      value,
      quality,
      status,
      // Modbus carries no time of its own: the time of the answer is the receive time.
      sourceTs: null,
      receivedTs: ts,
    };
    // Resolves when the sample is past the pipeline's backpressure, so a slow store slows the
    // scans down instead of piling samples up. A failed commit is counted, not thrown.
    return new Promise<void>((accepted) => {
      this.ctx.ingestSample(sample, accepted).catch((err: unknown) => {
        this.errors++;
        this.detail = `sample of ${tag} not committed: ${(err as Error).message}`;
        accepted();
      });
    });
  }

  /** Every tag bad with `status`, once (the change filter keeps it from repeating). */
  private markAllBad(status: string): void {
    const ts = Date.now();
    for (const name of this.tags.keys()) void this.emit(name, null, 'bad', status, ts);
  }

  async write(tagName: string, value: TagValue): Promise<void> {
    const fail = (reason: string, cause?: unknown): MwError =>
      new MwError(
        'MW_ERR_TAG_WRITE',
        { connection: this.id, tag: tagName, value: JSON.stringify(value), reason },
        { cause },
      );
    const tag = this.tags.get(tagName);
    if (tag === undefined) throw fail('no such tag in this connection');
    if (tag.table === 'discreteInputs' || tag.table === 'inputRegisters')
      throw fail(`${tag.table} are read-only in Modbus`);
    const device = this.devices.get(tag.unitId) as Device;
    let send: Send<unknown>;
    const unit = tag.unitId;
    const multiple = device.config.writeMultiple;
    try {
      if (tag.layout === null) {
        const coil = toCoil(value);
        send = multiple
          ? (c, cb) => c.writeFC15(unit, tag.address, [coil], cb) // FC15
          : (c, cb) => c.writeFC5(unit, tag.address, coil, cb); // FC5
      } else {
        const registers = encodeRegisters(value, tag.layout);
        send =
          registers.length === 1 && !multiple
            ? (c, cb) => c.writeFC6(unit, tag.address, registers[0] as number, cb) // FC6
            : (c, cb) => c.writeFC16(unit, tag.address, registers, cb); // FC16
      }
    } catch (err) {
      throw fail(`cannot convert: ${(err as Error).message}`, err);
    }
    if (this.link === null) throw fail(`not connected to ${this.endpoint}`);
    if (device.jobs.length >= device.config.queueMax)
      throw fail(`the request queue of unit ${unit} is full (${device.config.queueMax})`);
    await new Promise<void>((resolve, reject) => {
      const job: Job = {
        group: null,
        run: async (link) => {
          try {
            await this.request(link, device, send);
            resolve();
          } catch (err) {
            this.errors++;
            reject(fail((err as Error).message, err));
          }
        },
        cancel: (reason) => reject(fail(reason)),
      };
      // Writes go ahead of queued reads, behind earlier writes.
      const at = device.jobs.findIndex((j) => j.group !== null);
      device.jobs.splice(at === -1 ? device.jobs.length : at, 0, job);
      this.pump(device);
    });
  }

  async stop(): Promise<void> {
    this.status = 'stopped';
    this.abort?.abort();
    this.abort = null;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const d of this.devices.values()) this.clearQueue(d, 'connection stopped');
    const link = this.link;
    this.link = null;
    link?.close();
  }

  health(): ConnectorHealth {
    return {
      status: this.status,
      detail: this.detail,
      lastDataTs: this.lastDataTs,
      reconnects: this.reconnects,
      errors: this.errors,
    };
  }

  metrics(): readonly ConnectorMetric[] {
    const out: ConnectorMetric[] = [];
    for (const d of this.devices.values()) {
      const labels = { unit_id: String(d.config.unitId) };
      out.push(
        {
          name: 'modbus_queue_length',
          help: 'Requests waiting for the device or in flight.',
          type: 'gauge',
          labels,
          value: d.queueLength,
        },
        {
          name: 'modbus_request_latency_ms',
          help: 'Round trip of answered requests, moving average (ms).',
          type: 'gauge',
          labels,
          value: Math.round(d.latencyMs * 100) / 100,
        },
        {
          name: 'modbus_requests_total',
          help: 'Requests sent to the device (each retry counts).',
          type: 'counter',
          labels,
          value: d.requests,
        },
        {
          name: 'modbus_timeouts_total',
          help: 'Requests the device did not answer in time.',
          type: 'counter',
          labels,
          value: d.timeouts,
        },
        {
          name: 'modbus_exceptions_total',
          help: 'Exception answers of the device.',
          type: 'counter',
          labels,
          value: d.exceptions,
        },
        {
          name: 'modbus_scan_overruns_total',
          help: 'Scans skipped because the previous scan of the poll group was still running.',
          type: 'counter',
          labels,
          value: d.overruns,
        },
      );
    }
    return out;
  }

  async connectionTest(): Promise<ConnectionTestResult> {
    const c = this.ctx.config;
    let link: ModbusLink;
    try {
      link = await ModbusLink.open(c.host, c.port, c.connectTimeout);
    } catch (err) {
      return {
        ok: false,
        message: `cannot connect to ${this.endpoint}: ${(err as Error).message}`,
      };
    }
    try {
      const results: string[] = [];
      let ok = true;
      for (const device of this.devices.values()) {
        const block = [...device.blocks.values()].flat()[0];
        if (block === undefined) continue;
        const unit = device.config.unitId;
        try {
          const t0 = performance.now();
          await link.call(device.config.timeout, (client, cb) => {
            const n = block.tags[0]?.size ?? 1;
            if (block.table === 'coils') client.writeFC1(unit, block.start, n, cb);
            else if (block.table === 'discreteInputs') client.writeFC2(unit, block.start, n, cb);
            else if (block.table === 'holdingRegisters') client.writeFC3(unit, block.start, n, cb);
            else client.writeFC4(unit, block.start, n, cb);
          });
          results.push(`unit ${unit}: answered in ${Math.round(performance.now() - t0)} ms`);
        } catch (err) {
          ok = false;
          results.push(`unit ${unit}: ${(err as Error).message}`);
        }
      }
      return { ok, message: `connected to ${this.endpoint}; ${results.join('; ')}` };
    } finally {
      link.close();
    }
  }
}

export const modbusConnector: ConnectorDefinition<ModbusConnectionConfig> = {
  type: 'modbus',
  summary:
    'Modbus TCP client: coils, discrete inputs, holding and input registers of devices by unit id, in poll groups; writes coils and registers.',
  configSchema: modbusConnectionSchema,
  create: (ctx) => new ModbusConnector(ctx),
};
