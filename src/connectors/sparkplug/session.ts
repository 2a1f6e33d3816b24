/**
 * The host's bookkeeping of edge node and device sessions (Sparkplug B 3.0 chapter 5,
 * "Operational Behavior"): births build each node's metric set and alias map, data is resolved
 * against them, deaths and sequence gaps mark tags stale. Pure logic over decoded payloads: it
 * returns the samples to ingest and calls back for rebirth requests and quarantine.
 */
import type { Logger } from 'pino';
import type { SampleInput } from '../../core/ingest-types.ts';
import type { Quality, TagValue } from '../../model/index.ts';
import { datatypeName, valueOf, type SparkplugMetric, type SparkplugPayload } from './payload.ts';

export interface SessionOptions {
  readonly connectionId: string;
  readonly rebirthMinIntervalMs: number;
  /**
   * Reorder Timeout [tck-id-operational-behavior-host-reordering-param]: how long a message
   * that arrives after a sequence gap is held for the missing one(s); 0: no waiting, a gap asks
   * for a rebirth at once.
   */
  readonly reorderTimeoutMs: number;
  /** Samples released later, when the reorder timer expires. */
  emit(samples: SampleInput[]): void;
  readonly logger: Logger;
  /** Publish NCMD `Node Control/Rebirth`; resolves true when it went out. */
  sendRebirth(group: string, edgeNode: string): Promise<boolean>;
  /** Hand a raw message to the core's quarantine (it has no binding for a Sparkplug topic). */
  quarantine(topic: string, payload: Buffer, receivedTs: number): Promise<void>;
}

/** Where a write goes: NCMD (device null) or DCMD, with the metric as born. */
export interface CommandTarget {
  readonly group: string;
  readonly edgeNode: string;
  readonly device: string | null;
  readonly name: string;
  readonly alias: bigint | null;
  readonly datatype: number;
}

interface MetricInfo {
  readonly name: string;
  readonly alias: bigint | null;
  readonly datatype: number;
  readonly tag: string;
}

/** The metrics of one birth (a node's NBIRTH or a device's DBIRTH). */
interface Scope {
  readonly metrics: Map<string, MetricInfo>;
  readonly aliases: Map<bigint, MetricInfo>;
  online: boolean;
  /** Tags already sent as bad since the last birth (so they are sent once). */
  stale: boolean;
}

interface NodeSession extends Scope {
  readonly group: string;
  readonly edgeNode: string;
  /** bdSeq of the current NBIRTH: only an NDEATH with the same one ends the session. */
  readonly bdSeq: bigint | null;
  /** seq of the last message of the session (NBIRTH, DBIRTH, NDATA, DDATA, DDEATH). */
  seq: number | null;
  readonly devices: Map<string, Scope>;
  /** Why a rebirth was asked for; until the NBIRTH, data is uncertain. */
  awaitingRebirth: string | null;
}

type MessageType = 'NBIRTH' | 'NDATA' | 'NDEATH' | 'DBIRTH' | 'DDATA' | 'DDEATH';

const MESSAGE_TYPES = new Set<string>(['NBIRTH', 'NDATA', 'NDEATH', 'DBIRTH', 'DDATA', 'DDEATH']);
const DEVICE_TYPES = new Set<string>(['DBIRTH', 'DDATA', 'DDEATH']);
/** Messages that carry the node's sequence number after its NBIRTH. */
const SEQ_TYPES = new Set<string>(['DBIRTH', 'NDATA', 'DDATA', 'DDEATH']);

/** Messages of one node held after a sequence gap, by seq, and the reorder timer. */
interface Held {
  readonly messages: Map<number, Message>;
  timer: NodeJS.Timeout;
}

/** Tag of a node metric `<group>/<edge node>/<metric>` or device metric `…/<device>/<metric>`. */
export function tagOf(group: string, edgeNode: string, device: string | null, metric: string) {
  return device === null
    ? `${group}/${edgeNode}/${metric}`
    : `${group}/${edgeNode}/${device}/${metric}`;
}

/** Metric property `Quality` (Int32): 0 BAD, 192 GOOD, 500 STALE. [tck-id-payloads-propertyset-quality-value-value] */
function propertyQuality(m: SparkplugMetric): { quality: Quality; status: string } | null {
  const q = m.properties.get('Quality');
  if (q === undefined || q === null || q === 192) return null;
  if (q === 0) return { quality: 'bad', status: 'Sparkplug quality BAD (0)' };
  if (q === 500) return { quality: 'bad', status: 'stale: Sparkplug quality STALE (500)' };
  return { quality: 'uncertain', status: `Sparkplug quality ${String(q)}` };
}

export class SparkplugSessions {
  private readonly nodes = new Map<string, NodeSession>();
  /** Tag → where a write to it goes. */
  private readonly tags = new Map<string, { node: string; device: string | null; name: string }>();
  /** When the last rebirth request went to a node (key group/edge node). */
  private readonly rebirthAt = new Map<string, number>();
  private counters = { seqGaps: 0, rebirthRequests: 0, staleDeaths: 0, reordered: 0 };
  /** Per node (group/edge node): messages waiting for a missing seq (Reorder Timeout). */
  private readonly held = new Map<string, Held>();

  constructor(private readonly opts: SessionOptions) {}

  stats(): {
    nodesOnline: number;
    devicesOnline: number;
    seqGaps: number;
    rebirthRequests: number;
    staleDeaths: number;
    reordered: number;
  } {
    let nodesOnline = 0;
    let devicesOnline = 0;
    for (const n of this.nodes.values()) {
      if (n.online) nodesOnline++;
      for (const d of n.devices.values()) if (d.online) devicesOnline++;
    }
    return { nodesOnline, devicesOnline, ...this.counters };
  }

  /**
   * One decoded message; returns the samples to ingest. `topic` is
   * `spBv1.0/<group>/<type>/<edge node>[/<device>]` [tck-id-topic-structure].
   */
  handle(topic: string, payload: SparkplugPayload, raw: Buffer, receivedTs: number): SampleInput[] {
    const [, group, type, edgeNode, device, ...rest] = topic.split('/');
    if (type === 'NCMD' || type === 'DCMD') return []; // commands of hosts, ours included
    // [tck-id-topic-structure-namespace-device-id-associated-message-types]
    // [tck-id-topic-structure-namespace-device-id-non-associated-message-types]
    const isDevice = type !== undefined && DEVICE_TYPES.has(type);
    if (
      group === undefined ||
      type === undefined ||
      !MESSAGE_TYPES.has(type) ||
      edgeNode === undefined ||
      rest.length > 0 ||
      isDevice !== (device !== undefined)
    ) {
      this.quarantine(topic, raw, receivedTs, 'not a Sparkplug B topic');
      return [];
    }
    const ctx: Message = {
      topic,
      raw,
      group,
      edgeNode,
      device: device ?? null,
      key: `${group}/${edgeNode}`,
      type: type as MessageType,
      payload,
      receivedTs,
    };
    return this.ordered(ctx);
  }

  /**
   * Sequence order with a Reorder Timeout [tck-id-operational-behavior-host-reordering-start]:
   * a message after a gap is held (not applied) until the missing ones arrive — then all are
   * applied in order [tck-id-operational-behavior-host-reordering-success] — or the timer
   * expires: then the held ones are applied and the gap asks for a rebirth
   * [tck-id-operational-behavior-host-reordering-rebirth]. A birth or death of the node first
   * applies what is held.
   */
  private ordered(m: Message): SampleInput[] {
    const held = this.held.get(m.key);
    if (!SEQ_TYPES.has(m.type)) return [...this.release(m.key), ...this.dispatch(m)];
    const node = this.liveNode(m);
    const seq = m.payload.seq;
    if (this.opts.reorderTimeoutMs <= 0 || node === null || node.seq === null || seq === null)
      return this.dispatch(m);
    const expected = (node.seq + 1) % 256;
    const ahead = (seq - expected + 256) % 256;
    if (ahead > 0 && ahead < 128) {
      // From after a gap: hold it, and start the timer with the first one held.
      if (held === undefined) {
        const timer = setTimeout(() => {
          const out = this.release(m.key);
          if (out.length > 0) this.opts.emit(out);
        }, this.opts.reorderTimeoutMs);
        timer.unref();
        this.held.set(m.key, { messages: new Map([[seq, m]]), timer });
      } else held.messages.set(seq, m);
      return [];
    }
    const out = this.dispatch(m);
    if (held === undefined || ahead !== 0) return out;
    // The missing one came: apply what follows it, in order, as long as nothing is missing.
    for (;;) {
      const next = (node.seq + 1) % 256;
      const waiting = held.messages.get(next);
      if (waiting === undefined) break;
      held.messages.delete(next);
      this.counters.reordered++;
      out.push(...this.dispatch(waiting));
    }
    if (held.messages.size === 0) {
      clearTimeout(held.timer);
      this.held.delete(m.key);
    }
    return out;
  }

  /** Apply what a node holds, oldest seq first (the gap before it asks for a rebirth). */
  private release(key: string): SampleInput[] {
    const held = this.held.get(key);
    if (held === undefined) return [];
    clearTimeout(held.timer);
    this.held.delete(key);
    const base = this.nodes.get(key)?.seq ?? 0;
    const order = [...held.messages.entries()].sort(
      ([a], [b]) => ((a - base + 256) % 256) - ((b - base + 256) % 256),
    );
    return order.flatMap(([, m]) => this.dispatch(m));
  }

  /** Stop the reorder timers (the connection stops). */
  close(): void {
    for (const h of this.held.values()) clearTimeout(h.timer);
    this.held.clear();
  }

  private dispatch(ctx: Message): SampleInput[] {
    switch (ctx.type) {
      case 'NBIRTH':
        return this.nbirth(ctx);
      case 'NDEATH':
        return this.ndeath(ctx);
      case 'DBIRTH':
        return this.dbirth(ctx);
      case 'DDEATH':
        return this.ddeath(ctx);
      case 'NDATA':
      case 'DDATA':
        return this.data(ctx);
    }
  }

  /** A payload that does not decode: quarantined as is, and the node asked for a rebirth. */
  async undecodable(topic: string, raw: Buffer, receivedTs: number, reason: string): Promise<void> {
    const [, group, type, edgeNode] = topic.split('/');
    this.opts.logger.warn({ topic, reason }, 'Sparkplug: payload does not decode, quarantined');
    const quarantined = this.opts.quarantine(topic, raw, receivedTs);
    // (untagged, §5 "Sparkplug Host Application Receive Data") a rebirth MAY be requested on a
    // malformed payload.
    if (group !== undefined && edgeNode !== undefined && type !== 'NDEATH' && type !== 'STATE')
      this.requestRebirth(group, edgeNode, `undecodable ${type ?? ''} payload`, receivedTs);
    await quarantined;
  }

  /** The broker connection is gone: every known tag once as bad "stale: connection lost". */
  connectionLost(now: number): SampleInput[] {
    const out: SampleInput[] = [];
    for (const node of this.nodes.values()) {
      out.push(...this.staleScope(node, 'stale: connection lost', null, now));
      for (const d of node.devices.values())
        out.push(...this.staleScope(d, 'stale: connection lost', null, now));
      node.awaitingRebirth = 'connection to the broker lost';
    }
    return out;
  }

  /**
   * A new broker session: what was published meanwhile is lost, so every node known before is
   * asked for its births (the rate limit does not hold them back).
   */
  async connectionRestored(): Promise<void> {
    const now = Date.now();
    for (const node of this.nodes.values()) {
      if (node.awaitingRebirth === null) continue;
      this.rebirthAt.delete(`${node.group}/${node.edgeNode}`);
      this.requestRebirth(node.group, node.edgeNode, node.awaitingRebirth, now);
    }
  }

  /** Where a write to `tag` goes, or why it cannot go anywhere. */
  commandTarget(tag: string): CommandTarget | string {
    const entry = this.tags.get(tag);
    if (entry === undefined) return 'no metric of that name in any NBIRTH or DBIRTH seen';
    const node = this.nodes.get(entry.node);
    if (node === undefined) return 'no metric of that name in any NBIRTH or DBIRTH seen';
    if (!node.online) return `edge node ${entry.node} is offline (NDEATH)`;
    const scope = entry.device === null ? node : node.devices.get(entry.device);
    if (scope === undefined) return `device ${entry.device ?? ''} has not been born`;
    if (!scope.online) return `device ${entry.device ?? ''} is offline (DDEATH)`;
    const info = scope.metrics.get(entry.name);
    if (info === undefined) return 'the metric is not in the current birth';
    return {
      group: node.group,
      edgeNode: node.edgeNode,
      device: entry.device,
      name: info.name,
      alias: info.alias,
      datatype: info.datatype,
    };
  }

  // -------------------------------------------------------------------------------------------

  private nbirth(m: Message): SampleInput[] {
    const { group, edgeNode, key, payload, receivedTs } = m;
    const out: SampleInput[] = [];
    const previous = this.nodes.get(key);
    // Devices of the former session are not born again until their DBIRTH.
    if (previous !== undefined)
      for (const d of previous.devices.values())
        out.push(...this.staleScope(d, 'stale: new NBIRTH, no DBIRTH yet', null, receivedTs));
    // [tck-id-topics-nbirth-bdseq-included] [tck-id-payloads-nbirth-bdseq]
    const bdSeqMetric = payload.metrics.find((x) => x.name === 'bdSeq');
    const bdSeq = bdSeqMetric?.value?.field === 'longValue' ? bdSeqMetric.value.value : null;
    const node: NodeSession = {
      group,
      edgeNode,
      metrics: new Map(),
      aliases: new Map(),
      online: true,
      stale: false,
      bdSeq,
      // [tck-id-topics-nbirth-seq-num] any 0–255 is accepted and restarts the count.
      seq: payload.seq,
      devices: new Map(),
      awaitingRebirth: null,
    };
    this.nodes.set(key, node);
    this.rebirthAt.delete(key);
    out.push(...this.birth(m, node, node, null));
    this.opts.logger.debug({ node: key, bdSeq: bdSeq?.toString() }, 'Sparkplug NBIRTH');
    return out;
  }

  /**
   * [tck-id-topics-nbirth-metric-reqs] [tck-id-topics-dbirth-metric-reqs] the birth lists every
   * metric of the session, with name and datatype [tck-id-payloads-metric-datatype-req];
   * aliases map to them [tck-id-payloads-alias-birth-requirement].
   */
  private birth(m: Message, node: NodeSession, scope: Scope, device: string | null): SampleInput[] {
    const out: SampleInput[] = [];
    let unusable = 0;
    for (const metric of m.payload.metrics) {
      if (metric.name === null) {
        unusable++;
        continue;
      }
      const tag = tagOf(node.group, node.edgeNode, device, metric.name);
      if (metric.datatype === null) {
        out.push(this.sample(tag, null, 'bad', 'birth metric without datatype', m, metric));
        continue;
      }
      const info: MetricInfo = {
        name: metric.name,
        alias: metric.alias,
        datatype: metric.datatype,
        tag,
      };
      scope.metrics.set(metric.name, info);
      if (metric.alias !== null) {
        // [tck-id-payloads-alias-uniqueness] unique across the node's whole metric set.
        scope.aliases.set(metric.alias, info);
      }
      this.tags.set(tag, { node: m.key, device, name: metric.name });
      out.push(this.metricSample(info, metric, m, node));
    }
    if (unusable > 0) {
      this.quarantine(m.topic, m.raw, m.receivedTs, `${unusable} birth metric(s) without a name`);
      this.requestRebirth(
        node.group,
        node.edgeNode,
        `${m.type} metric without a name`,
        m.receivedTs,
      );
    }
    return out;
  }

  private dbirth(m: Message): SampleInput[] {
    const node = this.liveNode(m);
    if (node === null) return this.orphan(m);
    const out = this.checkSeq(node, m);
    // [tck-id-message-flow-device-birth-publish-dbirth-match-edge-node-topic]
    const device: Scope = { metrics: new Map(), aliases: new Map(), online: true, stale: false };
    node.devices.set(m.device as string, device);
    out.push(...this.birth(m, node, device, m.device));
    return out;
  }

  private data(m: Message): SampleInput[] {
    const node = this.liveNode(m);
    if (node === null) return this.orphan(m);
    const out = this.checkSeq(node, m);
    const scope = m.device === null ? node : node.devices.get(m.device);
    if (scope === undefined || !scope.online) {
      // DDATA of a device without DBIRTH: its metrics cannot be typed or named reliably.
      this.requestRebirth(
        node.group,
        node.edgeNode,
        `DDATA before DBIRTH of ${m.device ?? ''}`,
        m.receivedTs,
      );
      out.push(...this.unresolved(m, `DDATA before DBIRTH of ${m.device ?? ''}`));
      return out;
    }
    let unknown = 0;
    for (const metric of m.payload.metrics) {
      // [tck-id-payloads-alias-data-cmd-requirement] by alias, or by name without one.
      const info =
        (metric.alias !== null ? scope.aliases.get(metric.alias) : undefined) ??
        (metric.name !== null ? scope.metrics.get(metric.name) : undefined);
      if (info !== undefined) {
        out.push(this.metricSample(info, metric, m, node));
        continue;
      }
      // Not in the birth: the host MAY ask for a rebirth (untagged, §5).
      unknown++;
      if (metric.name !== null && metric.datatype !== null) {
        const tag = tagOf(node.group, node.edgeNode, m.device, metric.name);
        out.push(
          this.metricSample(
            { name: metric.name, alias: metric.alias, datatype: metric.datatype, tag },
            metric,
            m,
            node,
            'metric not in the birth',
          ),
        );
      } else {
        this.quarantine(m.topic, m.raw, m.receivedTs, 'metric not in the birth');
      }
    }
    if (unknown > 0)
      this.requestRebirth(
        node.group,
        node.edgeNode,
        `${m.type} metric not in the birth`,
        m.receivedTs,
      );
    return out;
  }

  /**
   * NDEATH: valid only with the bdSeq of the node's current NBIRTH (untagged, §5 and §6
   * NDEATH); then the node, its devices and all their tags go offline / stale at the host's
   * time [tck-id-operational-behavior-edge-node-termination-host-action-ndeath-node-offline]
   * [tck-id-operational-behavior-edge-node-termination-host-action-ndeath-node-tags-stale]
   * [tck-id-operational-behavior-edge-node-termination-host-action-ndeath-devices-offline]
   * [tck-id-operational-behavior-edge-node-termination-host-action-ndeath-devices-tags-stale].
   */
  private ndeath(m: Message): SampleInput[] {
    const node = this.nodes.get(m.key);
    const bdSeqMetric = m.payload.metrics.find((x) => x.name === 'bdSeq');
    const bdSeq = bdSeqMetric?.value?.field === 'longValue' ? bdSeqMetric.value.value : null;
    if (node === undefined || !node.online || bdSeq === null || bdSeq !== node.bdSeq) {
      this.counters.staleDeaths++;
      this.opts.logger.debug(
        { node: m.key, bdSeq: bdSeq?.toString(), current: node?.bdSeq?.toString() },
        'Sparkplug: NDEATH of another session ignored',
      );
      return [];
    }
    node.online = false;
    const now = m.receivedTs;
    const out = this.staleScope(node, 'stale: NDEATH', now, now);
    for (const d of node.devices.values()) {
      d.online = false;
      out.push(...this.staleScope(d, 'stale: NDEATH', now, now));
    }
    this.opts.logger.debug({ node: m.key }, 'Sparkplug NDEATH');
    return out;
  }

  /**
   * DDEATH: the device and its tags go offline / stale at the DDEATH's own timestamp
   * [tck-id-operational-behavior-edge-node-termination-host-action-ddeath-devices-offline]
   * [tck-id-operational-behavior-edge-node-termination-host-action-ddeath-devices-tags-stale].
   */
  private ddeath(m: Message): SampleInput[] {
    const node = this.liveNode(m);
    if (node === null) return this.orphan(m);
    // [tck-id-payloads-ddeath-seq-number] DDEATH is ordered by seq like data.
    const out = this.checkSeq(node, m);
    const device = node.devices.get(m.device as string);
    if (device === undefined) return out;
    device.online = false;
    device.stale = false; // a death always reports
    out.push(
      ...this.staleScope(
        device,
        'stale: DDEATH',
        m.payload.timestamp ?? m.receivedTs,
        m.receivedTs,
      ),
    );
    return out;
  }

  // -------------------------------------------------------------------------------------------

  /** The node's session, or null (a message before NBIRTH or after NDEATH). */
  private liveNode(m: Message): NodeSession | null {
    const node = this.nodes.get(m.key);
    return node !== undefined && node.online ? node : null;
  }

  /**
   * A message from a node without a live session (before its NBIRTH, or after its NDEATH):
   * rebirth requested (untagged, §5), metrics with a name kept as uncertain samples, the rest
   * quarantined.
   */
  private orphan(m: Message): SampleInput[] {
    const reason = `${m.type} before NBIRTH`;
    this.requestRebirth(m.group, m.edgeNode, reason, m.receivedTs);
    return this.unresolved(m, reason);
  }

  /** Metrics that cannot be resolved against a birth: named ones uncertain, the rest quarantined. */
  private unresolved(m: Message, reason: string): SampleInput[] {
    const out: SampleInput[] = [];
    let unnamed = 0;
    for (const metric of m.payload.metrics) {
      if (metric.name === null || metric.datatype === null) {
        unnamed++;
        continue;
      }
      const tag = tagOf(m.group, m.edgeNode, m.device, metric.name);
      out.push(
        this.metricSample(
          { name: metric.name, alias: metric.alias, datatype: metric.datatype, tag },
          metric,
          m,
          null,
          reason,
        ),
      );
    }
    if (unnamed > 0) this.quarantine(m.topic, m.raw, m.receivedTs, reason);
    return out;
  }

  /**
   * [tck-id-payloads-sequence-num-incrementing] each message after NBIRTH has seq + 1, wrapping
   * 255 → 0; device messages share the node's counter. A gap (left after the Reorder Timeout,
   * see `ordered`) asks for a rebirth and returns the stale samples of the node.
   */
  private checkSeq(node: NodeSession, m: Message): SampleInput[] {
    const seq = m.payload.seq;
    const expected = node.seq === null ? null : (node.seq + 1) % 256;
    if (seq !== null) node.seq = seq;
    let reason: string | null = null;
    // [tck-id-payloads-sequence-num-always-included]
    if (seq === null) reason = `${m.type} without seq`;
    else if (expected !== null && seq !== expected)
      reason = `seq gap: expected ${expected}, got ${seq} (${m.type})`;
    if (reason === null) return [];
    this.counters.seqGaps++;
    return this.requestRebirth(node.group, node.edgeNode, reason, m.receivedTs);
  }

  /**
   * Ask a node for a rebirth (NCMD `Node Control/Rebirth`), at most once per
   * `rebirthMinIntervalMs`; its tags are stale until the NBIRTH. Returns those stale samples.
   */
  private requestRebirth(
    group: string,
    edgeNode: string,
    reason: string,
    now: number,
  ): SampleInput[] {
    const key = `${group}/${edgeNode}`;
    const out: SampleInput[] = [];
    const node = this.nodes.get(key);
    if (node !== undefined) {
      if (node.awaitingRebirth === null) node.awaitingRebirth = reason;
      const status = `stale: ${reason}, rebirth requested`;
      out.push(...this.staleScope(node, status, null, now));
      for (const d of node.devices.values()) out.push(...this.staleScope(d, status, null, now));
    }
    const last = this.rebirthAt.get(key);
    if (last !== undefined && now - last < this.opts.rebirthMinIntervalMs) return out;
    this.rebirthAt.set(key, now);
    this.opts.logger.info({ node: key, reason }, 'Sparkplug: rebirth requested');
    this.opts.sendRebirth(group, edgeNode).then(
      (sent) => {
        if (sent) this.counters.rebirthRequests++;
        else this.rebirthAt.delete(key);
      },
      () => this.rebirthAt.delete(key),
    );
    return out;
  }

  /** Every tag of a scope once as bad with `status` (value null: nothing stays good). */
  private staleScope(
    scope: Scope,
    status: string,
    sourceTs: number | null,
    receivedTs: number,
  ): SampleInput[] {
    if (scope.stale) return [];
    scope.stale = true;
    return [...scope.metrics.values()].map((info) => ({
      connectionId: this.opts.connectionId,
      tag: info.tag,
      value: null,
      quality: 'bad' as const,
      status,
      sourceTs,
      receivedTs,
    }));
  }

  /**
   * The sample of one metric value. Quality: bad when the value does not decode; the metric's
   * `Quality` property when it has one; uncertain while a rebirth is awaited (`doubt`), and for
   * historical values (`is_historical`: recorded with their own timestamp, but not current, so
   * they change no state or counter).
   */
  private metricSample(
    info: MetricInfo,
    metric: SparkplugMetric,
    m: Message,
    node: NodeSession | null,
    doubt: string | null = null,
  ): SampleInput {
    const datatype = info.datatype;
    let value: TagValue = null;
    let quality: Quality = 'good';
    let status: string | null = null;
    if (metric.isNull) {
      value = null; // [tck-id-operational-behavior-data-publish-nbirth-values]
    } else if (metric.value === null) {
      quality = 'bad';
      status = `${datatypeName(datatype)} metric without a value (and not is_null)`;
    } else {
      const v = valueOf(datatype, metric.value);
      if (v.ok) value = v.value;
      else {
        quality = 'bad';
        status = v.reason;
      }
    }
    if (quality === 'good') {
      const pq = propertyQuality(metric);
      if (pq !== null) ({ quality, status } = pq);
    }
    const pending = doubt ?? node?.awaitingRebirth ?? null;
    if (quality === 'good' && pending !== null) {
      quality = 'uncertain';
      status = `awaiting rebirth: ${pending}`;
    }
    if (metric.isHistorical && quality === 'good') {
      quality = 'uncertain';
      status = 'historical';
    }
    return this.sample(info.tag, value, quality, status, m, metric);
  }

  private sample(
    tag: string,
    value: TagValue,
    quality: Quality,
    status: string | null,
    m: Message,
    metric: SparkplugMetric,
  ): SampleInput {
    return {
      connectionId: this.opts.connectionId,
      tag,
      value,
      quality,
      status,
      // [tck-id-payloads-name-birth-data-requirement] each metric's own timestamp, else the
      // payload's; both UTC ms [tck-id-payloads-timestamp-in-UTC].
      sourceTs: metric.timestamp ?? m.payload.timestamp,
      receivedTs: m.receivedTs,
    };
  }

  private quarantine(topic: string, raw: Buffer, receivedTs: number, reason: string): void {
    this.opts.logger.debug({ topic, reason }, 'Sparkplug message quarantined');
    this.opts
      .quarantine(topic, raw, receivedTs)
      .catch((err: unknown) =>
        this.opts.logger.warn({ err, topic }, 'Sparkplug: quarantine of a message failed'),
      );
  }
}

interface Message {
  readonly topic: string;
  readonly raw: Buffer;
  readonly group: string;
  readonly edgeNode: string;
  readonly device: string | null;
  /** `<group>/<edge node>` (the Edge Node Descriptor [tck-id-topic-structure-namespace-unique-edge-node-descriptor]). */
  readonly key: string;
  readonly type: MessageType;
  readonly payload: SparkplugPayload;
  readonly receivedTs: number;
}
