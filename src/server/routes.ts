/** The `/api/v1` routes. Each validates its input with the zod schemas in schemas.ts. */
import type { FastifyInstance } from 'fastify';
import { MwError } from '../errors.ts';
import type { SpoolItem } from '../core/spool.ts';
import type { Equipment, JournalEvent, Quality, TagValue } from '../model/index.ts';
import type { StoredQuarantineEntry } from '../store/types.ts';
import type { StopView } from '../core/downtime-service.ts';
import { VERSION } from '../version.ts';
import { principalOf } from './auth.ts';
import type { HubView } from '../hub-view.ts';
import { parseInput } from './input.ts';
import {
  auditVerification,
  downtimesQuery,
  eventsQuery,
  quarantineQuery,
  type equipmentView,
  type eventView,
  type healthView,
  type quarantineView,
} from './schemas.ts';
import type { z } from 'zod';

const iso = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined || ms <= 0 ? null : new Date(ms).toISOString();

export const encodeCursor = (n: number): string => Buffer.from(String(n)).toString('base64url');
export function decodeCursor(cursor: string | undefined, field: string): number | undefined {
  if (cursor === undefined) return undefined;
  const n = Number(Buffer.from(cursor, 'base64url').toString());
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new MwError(
      'MW_ERR_API_VALIDATION',
      { path: field, rule: 'expected a cursor returned as nextCursor by an earlier page' },
      { path: field },
    );
  }
  return n;
}

function equipmentJson(hub: HubView, e: Equipment): z.infer<typeof equipmentView> {
  const unit = e.level === 'workUnit' ? hub.runtime.get(e.id) : undefined;
  return {
    id: e.id,
    name: e.name,
    level: e.level,
    parentId: e.parentId,
    childIds: [...e.childIds],
    timeZone: e.timeZone ?? null,
    outputUnitId: e.level === 'workCenter' ? outputUnitOf(hub, e) : null,
    idealCycleTimeS: e.idealCycleTimeS ?? null,
    status:
      unit === undefined
        ? null
        : {
            state: unit.status.state,
            reasonCode: unit.status.reasonCode,
            since: iso(unit.status.sinceMs),
          },
    counters:
      unit === undefined
        ? null
        : {
            good: { total: unit.counters.good.total, lastRaw: unit.counters.good.lastRaw },
            scrap: { total: unit.counters.scrap.total, lastRaw: unit.counters.scrap.lastRaw },
            total: { total: unit.counters.total.total, lastRaw: unit.counters.total.lastRaw },
          },
    materials:
      unit === undefined
        ? null
        : Object.entries(unit.materials)
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([material, p]) => ({
              material,
              total: p.total,
              uom: hub.materials.get(material)?.uom ?? null,
              lastRaw: p.lastRaw,
              lastTs: iso(p.lastTs),
            })),
    updatedAt: unit === undefined ? null : iso(unit.updatedAt),
  };
}

/** The unit whose good count is a line's output: configured, else the line's last unit. */
export function outputUnitOf(hub: HubView, line: Equipment): string | null {
  const configured = hub.config.sites
    .flatMap((site) => site.areas.flatMap((area) => area.lines.map((l) => ({ site, area, l }))))
    .find(
      ({ site, area, l }) =>
        `${hub.config.enterprise.id}/${site.id}/${area.id}/${l.id}` === line.id,
    );
  const unit = configured?.l.outputUnit ?? line.childIds.at(-1)?.split('/').at(-1);
  return unit === undefined ? null : `${line.id}/${unit}`;
}

function eventJson(e: JournalEvent): z.infer<typeof eventView> {
  return {
    seq: e.seq,
    type: e.type,
    equipmentId: e.equipmentId,
    ts: new Date(e.ts).toISOString(),
    recordedAt: new Date(e.recordedAt).toISOString(),
    data: { ...e.data },
  };
}

function quarantineJson(q: StoredQuarantineEntry): z.infer<typeof quarantineView> {
  const text = q.payload.toString('utf8');
  // Shown as text when it is valid UTF-8 without control characters other than tab and newlines.
  const printable =
    Buffer.from(text, 'utf8').equals(q.payload) &&
    ![...text].some((ch) => {
      const code = ch.charCodeAt(0);
      return code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d;
    });
  return {
    id: q.id,
    connectionId: q.connectionId,
    source: q.source,
    receivedAt: new Date(q.receivedTs).toISOString(),
    code: q.code,
    message: q.message,
    payloadBytes: q.payloadBytes,
    payload: printable ? text : q.payload.toString('base64'),
    payloadEncoding: printable ? 'utf8' : 'base64',
    replayedAt: iso(q.replayedAt),
  };
}

export function stopJson(s: StopView) {
  return {
    seq: s.seq,
    state: s.state,
    plcReasonCode: s.plcReasonCode,
    start: new Date(s.start).toISOString(),
    end: s.end === null ? null : new Date(s.end).toISOString(),
    durationMs: s.durationMs,
    microStop: s.microStop,
    reason:
      s.reason === null
        ? null
        : {
            code: s.reason.code,
            name: s.reason.name,
            category: s.reason.category,
            planned: s.reason.planned,
          },
    reasonSource: s.reasonSource,
    comment: s.comment,
    classifiedBy: s.classifiedBy,
    classifiedAt: iso(s.classifiedAt),
  };
}

/** A quarantined input as it arrived: an MQTT message, or a decoded sample (JSON) of another connector. */
function replayItem(entry: StoredQuarantineEntry, connectionType: string): SpoolItem {
  if (connectionType !== 'mqtt') {
    try {
      const v = JSON.parse(entry.payload.toString('utf8')) as Record<string, unknown>;
      if (v !== null && typeof v === 'object' && 'quality' in v && 'value' in v) {
        return {
          kind: 'sample',
          sample: {
            connectionId: entry.connectionId,
            tag: entry.source,
            value: v.value as TagValue,
            quality: v.quality as Quality,
            status: (v.status as string | null | undefined) ?? null,
            sourceTs: null,
            receivedTs: entry.receivedTs,
          },
        };
      }
    } catch {
      // not a decoded sample: the raw message below
    }
  }
  return {
    kind: 'message',
    message: {
      connectionId: entry.connectionId,
      topic: entry.source,
      payload: entry.payload,
      receivedTs: entry.receivedTs,
    },
  };
}

export function findEquipment(hub: HubView, id: string): Equipment {
  const e = hub.hierarchy.get(id);
  if (e === undefined)
    throw new MwError('MW_ERR_EQUIPMENT_NOT_FOUND', { id }, { path: 'params.id' });
  return e;
}

export function registerRoutes(app: FastifyInstance, hub: HubView): void {
  app.get('/api/v1/health', { config: { access: 'public' } }, async (_request, reply) => {
    let storeError: string | null = null;
    try {
      await hub.store.ping();
    } catch (err) {
      storeError = (err as Error).message;
    }
    const ingest = hub.pipeline.snapshot();
    const connections = hub.connectors.map((c) => {
      const h = c.health();
      const s = ingest.connections[c.id];
      return {
        id: c.id,
        type: c.type,
        status: h.status,
        detail: h.detail,
        lastDataAt: iso(h.lastDataTs),
        reconnects: h.reconnects,
        errors: h.errors,
        received: s?.received ?? 0,
        accepted: s?.accepted ?? 0,
        quarantined: s?.quarantined ?? 0,
      };
    });
    // Degraded: a connection is not up, or the latest commit attempt failed.
    const commitFailing = (ingest.lastCommitErrorTs ?? 0) > (ingest.lastCommitTs ?? 0);
    const degraded =
      connections.some((c) => c.status !== 'connected') ||
      commitFailing ||
      ingest.mode === 'spooling';
    // The store away is `down` only when input cannot be taken: with room in the local spool
    // the hub still accepts (and acknowledges) everything, so it is `degraded` (HTTP 200).
    const spoolTakes = ingest.spool !== null && ingest.waitingForRoom === 0;
    const down = storeError !== null && !spoolTakes;
    const body: z.infer<typeof healthView> = {
      status: down ? 'down' : degraded || storeError !== null ? 'degraded' : 'ok',
      version: VERSION,
      startedAt: new Date(hub.startedAt).toISOString(),
      store: {
        kind: hub.store.kind,
        location: hub.store.location,
        ok: storeError === null,
        error: storeError,
      },
      broker:
        hub.broker === null ? null : { url: hub.broker.url, clients: hub.broker.connectedClients },
      connections,
      ingest: {
        queued: ingest.queued,
        committedSamples: ingest.committedSamples,
        committedEvents: ingest.committedEvents,
        committedBatches: ingest.committedBatches,
        commitErrors: ingest.commitErrors,
        lastCommitAt: iso(ingest.lastCommitTs),
        lastCommitError: ingest.lastCommitError,
        mode: ingest.mode,
        spool:
          ingest.spool === null
            ? null
            : {
                ...ingest.spool,
                fill: Math.round((ingest.spool.bytes / ingest.spool.maxBytes) * 1000) / 1000,
              },
      },
    };
    return reply.status(down ? 503 : 200).send(body);
  });

  app.get('/api/v1/equipment', { config: { access: 'equipment.read' } }, async () => ({
    items: hub.hierarchy.all().map((e) => equipmentJson(hub, e)),
  }));

  // Equipment ids are paths (acme/plant1/packaging/line1/filler): taken from the rest of the URL,
  // either as plain segments or URL-encoded as one segment.
  app.get('/api/v1/equipment/*', { config: { access: 'equipment.read' } }, async (request) => {
    const rest = decodeURIComponent((request.params as { '*': string })['*']).replace(/\/+$/, '');
    if (rest.endsWith('/downtimes')) {
      const id = rest.slice(0, -'/downtimes'.length);
      findEquipment(hub, id);
      const q = parseInput(downtimesQuery, request.query, 'query');
      const stops = await hub.downtime.list(principalOf(request), id, { from: q.from, to: q.to });
      return { items: stops.map(stopJson) };
    }
    if (rest.endsWith('/reasons')) {
      // The reason tree of the site the equipment belongs to (what a stop can be given).
      const id = rest.slice(0, -'/reasons'.length);
      findEquipment(hub, id);
      return {
        items: hub.downtime
          .treeOf(id)
          .all()
          .map((r) => ({
            code: r.code,
            name: r.name,
            category: r.category,
            planned: r.planned,
            plcCodes: [...r.plcCodes],
          })),
      };
    }
    if (rest.endsWith('/events')) {
      const id = rest.slice(0, -'/events'.length);
      findEquipment(hub, id);
      const q = parseInput(eventsQuery, request.query, 'query');
      const rows = await hub.store.listEvents({
        equipmentId: id,
        fromTs: q.from,
        toTs: q.to,
        afterSeq: decodeCursor(q.cursor, 'query.cursor'),
        type: q.type,
        limit: q.limit + 1,
      });
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      return {
        items: page.map(eventJson),
        nextCursor: rows.length > q.limit && last !== undefined ? encodeCursor(last.seq) : null,
      };
    }
    return equipmentJson(hub, findEquipment(hub, rest));
  });

  // 21 CFR 11.10(e): the trail can be checked at any time; the API offers no way to change it.
  app.get('/api/v1/audit/verify', { config: { access: 'audit.read' } }, async (_request, reply) => {
    const started = Date.now();
    const result = await hub.store.verifyAudit();
    const body: z.infer<typeof auditVerification> = result.ok
      ? { ok: true, count: result.count, seq: null, reason: null, tookMs: Date.now() - started }
      : {
          ok: false,
          count: result.count,
          seq: result.seq,
          reason: result.reason,
          tookMs: Date.now() - started,
        };
    return reply.status(200).send(body);
  });

  // Replay a quarantined input once its binding or mapping is fixed (the hub restarted with
  // the new configuration); the entry is marked replayed, with an audit row, so it cannot be
  // replayed twice. An old reading replayed after newer ones changes no state or counter.
  app.post(
    '/api/v1/quarantine/:id/replay',
    { config: { access: 'config.write' } },
    async (request) => {
      const id = Number((request.params as { id: string }).id);
      const entry = Number.isSafeInteger(id) ? await hub.store.getQuarantine(id) : undefined;
      if (entry === undefined)
        throw new MwError('MW_ERR_RECORD_NOT_FOUND', {
          entity: 'quarantine entry',
          id: String(id),
        });
      if (entry.replayedAt !== null)
        throw new MwError('MW_ERR_QUARANTINE_REPLAYED', { id, at: iso(entry.replayedAt) ?? '' });
      if (entry.payload.length < entry.payloadBytes) {
        throw new MwError('MW_ERR_QUARANTINE_TRUNCATED', {
          id,
          kept: entry.payload.length,
          size: entry.payloadBytes,
        });
      }
      const connection = hub.config.connections.find((c) => c.id === entry.connectionId);
      if (connection === undefined)
        throw new MwError('MW_ERR_CONNECTION_NOT_FOUND', { id: entry.connectionId });
      const outcome = await hub.pipeline.reingest(replayItem(entry, connection.type));
      const at = Date.now();
      const result = outcome.quarantined ? `quarantined again: ${outcome.code}` : 'accepted';
      const marked = await hub.store.markQuarantineReplayed(id, at, [
        hub.identity.audit(
          principalOf(request),
          'replay',
          'quarantine',
          String(id),
          { result: { old: null, new: result } },
          null,
        ),
      ]);
      if (!marked) throw new MwError('MW_ERR_QUARANTINE_REPLAYED', { id, at: iso(at) ?? '' });
      return {
        id,
        replayedAt: iso(at),
        accepted: !outcome.quarantined,
        ...(outcome.quarantined ? { error: { code: outcome.code, message: outcome.message } } : {}),
      };
    },
  );

  app.get('/api/v1/quarantine', { config: { access: 'samples.read' } }, async (request) => {
    const q = parseInput(quarantineQuery, request.query, 'query');
    const rows = await hub.store.listQuarantine({
      connectionId: q.connection,
      beforeId: decodeCursor(q.cursor, 'query.cursor'),
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    const stats = hub.pipeline.snapshot().connections;
    return {
      items: page.map(quarantineJson),
      nextCursor: rows.length > q.limit && last !== undefined ? encodeCursor(last.id) : null,
      total: await hub.store.countQuarantine(),
      countsByConnection: Object.fromEntries(
        Object.entries(stats).map(([id, s]) => [
          id,
          {
            quarantined: s.quarantined,
            byCode: { ...s.quarantinedByCode } as Record<string, number>,
          },
        ]),
      ),
    };
  });
}
