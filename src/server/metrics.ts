/**
 * Prometheus metrics at /metrics (prom-client), read from the hub's own figures at scrape time:
 * ingest counts, commit errors, the queue, and per connection its status, samples/s, reconnects,
 * errors and the connector's own metrics (queue lengths, latencies). A registry per hub, so
 * several hubs in one process (tests) do not share values.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { HubView } from '../hub-view.ts';
import { EQUIPMENT_STATES, shiftAt } from '../model/index.ts';
import type { Principal } from '../compliance/roles.ts';

/** Who reads the KPIs for a scrape (already allowed metrics.read): nothing but equipment.read. */
const METRICS_READER: Principal = {
  kind: 'local',
  actor: 'system:metrics',
  username: 'system:metrics',
  permissions: new Set(['equipment.read']),
};

const STATUS_VALUE = { connected: 1, connecting: 0.5, disconnected: 0, stopped: 0 } as const;

/** A counter whose total lives elsewhere: each scrape adds what grew since the last. */
function mirroredCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => [Record<string, string>, number][],
): void {
  const seen = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [labels, total] of read()) {
        const key = JSON.stringify(labels);
        const grew = total - (seen.get(key) ?? 0);
        if (grew > 0) this.inc(labels, grew);
        seen.set(key, total);
      }
    },
  });
}

export function buildMetrics(hub: HubView): { contentType: string; scrape(): Promise<string> } {
  const registry = new Registry();
  const connections = () => Object.entries(hub.pipeline.snapshot().connections);

  mirroredCounter(
    registry,
    'millwright_samples_received_total',
    'Samples received per connection.',
    ['connection'],
    () => connections().map(([id, c]) => [{ connection: id }, c.received]),
  );
  mirroredCounter(
    registry,
    'millwright_line_results_total',
    'Readings of quality.lineResults tags: recorded as inspection results, or not (no order running on the unit, or refused by the plan; each logged).',
    ['outcome'],
    () => [
      [{ outcome: 'recorded' }, hub.lineResults.recorded],
      [{ outcome: 'unattributed' }, hub.lineResults.unattributed],
    ],
  );
  mirroredCounter(
    registry,
    'millwright_samples_quarantined_total',
    'Samples quarantined per connection.',
    ['connection'],
    () => connections().map(([id, c]) => [{ connection: id }, c.quarantined]),
  );
  mirroredCounter(
    registry,
    'millwright_samples_filtered_total',
    'Process readings within their binding’s deadband, not stored, per connection.',
    ['connection'],
    () => connections().map(([id, c]) => [{ connection: id }, c.filtered]),
  );
  mirroredCounter(
    registry,
    'millwright_unmapped_reason_codes_total',
    'Stops whose PLC reason code is not in the site’s reason tree (kept, unclassified), per connection.',
    ['connection'],
    () => connections().map(([id, c]) => [{ connection: id }, c.unmappedReasons]),
  );
  mirroredCounter(
    registry,
    'millwright_committed_samples_total',
    'Samples committed to the store.',
    [],
    () => [[{}, hub.pipeline.snapshot().committedSamples]],
  );
  mirroredCounter(
    registry,
    'millwright_committed_events_total',
    'Journal events committed.',
    [],
    () => [[{}, hub.pipeline.snapshot().committedEvents]],
  );
  mirroredCounter(
    registry,
    'millwright_inputs_dropped_total',
    'Inputs the store refused even as a quarantine entry (each logged whole at error level).',
    [],
    () => [[{}, hub.pipeline.snapshot().dropped]],
  );
  mirroredCounter(registry, 'millwright_commit_errors_total', 'Failed store commits.', [], () => [
    [{}, hub.pipeline.snapshot().commitErrors],
  ]);
  new Gauge({
    name: 'millwright_ingest_queued',
    help: 'Samples waiting for commit.',
    registers: [registry],
    collect() {
      this.set(hub.pipeline.snapshot().queued);
    },
  });
  new Gauge({
    name: 'millwright_spool_bytes',
    help: 'Bytes in the local spool (input kept while the store is away).',
    registers: [registry],
    collect() {
      this.set(hub.pipeline.snapshot().spool?.bytes ?? 0);
    },
  });
  new Gauge({
    name: 'millwright_spool_entries',
    help: 'Entries in the local spool.',
    registers: [registry],
    collect() {
      this.set(hub.pipeline.snapshot().spool?.entries ?? 0);
    },
  });
  new Gauge({
    name: 'millwright_connection_up',
    help: 'Connection status: 1 connected, 0.5 connecting, 0 disconnected or stopped.',
    labelNames: ['connection', 'type'],
    registers: [registry],
    collect() {
      for (const c of hub.connectors)
        this.set({ connection: c.id, type: c.type }, STATUS_VALUE[c.health().status]);
    },
  });
  new Gauge({
    name: 'millwright_connection_samples_per_second',
    help: 'Samples per second received per connection (10 s window).',
    labelNames: ['connection'],
    registers: [registry],
    collect() {
      for (const c of hub.connectors) this.set({ connection: c.id }, hub.rates.rate(c.id));
    },
  });
  mirroredCounter(
    registry,
    'millwright_connection_reconnects_total',
    'Reconnections per connection.',
    ['connection'],
    () => hub.connectors.map((c) => [{ connection: c.id }, c.health().reconnects]),
  );
  mirroredCounter(
    registry,
    'millwright_connection_errors_total',
    'Errors per connection.',
    ['connection'],
    () => hub.connectors.map((c) => [{ connection: c.id }, c.health().errors]),
  );

  // The ERP side (issue #10): deliveries per target, the outbox by status, inbound refusals.
  const targets = () => hub.dispatcher.snapshot();
  mirroredCounter(
    registry,
    'millwright_outbox_delivered_total',
    'Messages delivered to each enterprise target (accepted by the receiver).',
    ['target'],
    () => targets().map((t) => [{ target: t.id }, t.delivered]),
  );
  mirroredCounter(
    registry,
    'millwright_outbox_failed_attempts_total',
    'Failed delivery attempts per enterprise target (each retried, or dead).',
    ['target'],
    () => targets().map((t) => [{ target: t.id }, t.failedAttempts]),
  );
  mirroredCounter(
    registry,
    'millwright_outbox_dead_total',
    'Messages that became dead letters per enterprise target.',
    ['target'],
    () => targets().map((t) => [{ target: t.id }, t.dead]),
  );
  new Gauge({
    name: 'millwright_outbox_delivery_latency_p99_ms',
    help: 'Commit → accepted by the receiver, 99th percentile of the last 1000 deliveries, per target.',
    labelNames: ['target'],
    registers: [registry],
    collect() {
      for (const t of targets()) {
        const sorted = [...t.latencies].sort((a, b) => a - b);
        if (sorted.length > 0)
          this.set(
            { target: t.id },
            sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]!,
          );
      }
    },
  });
  const outboxGauge = new Gauge({
    name: 'millwright_outbox_messages',
    help: 'Outbox rows per enterprise target and status (pending, delivered, dead, discarded).',
    labelNames: ['target', 'status'],
    registers: [registry],
  });
  mirroredCounter(
    registry,
    'millwright_inbound_refused_total',
    'Documents from the ERP refused (and quarantined) per inbound path.',
    ['inbound'],
    () => Object.entries(hub.inbound.snapshot()).map(([id, s]) => [{ inbound: id }, s.refused]),
  );

  // Connector-specific figures: a gauge per name, registered on first sight, set per scrape.
  const own = new Map<string, Gauge>();
  const connectorMetrics = (): void => {
    for (const c of hub.connectors) {
      for (const m of c.metrics?.() ?? []) {
        const name = `millwright_${m.name}`;
        let g = own.get(name);
        if (g === undefined) {
          g = new Gauge({
            name,
            help: m.help,
            labelNames: ['connection', ...Object.keys(m.labels ?? {})],
            registers: [registry],
          });
          own.set(name, g);
        }
        g.set({ connection: c.id, ...m.labels }, m.value);
      }
    }
  };
  new Gauge({
    name: 'millwright_unit_state',
    help: 'Current state of each work unit: 1 for the state it is in, 0 for the others.',
    labelNames: ['equipment', 'state'],
    registers: [registry],
    collect() {
      for (const u of hub.runtime.all())
        for (const state of EQUIPMENT_STATES)
          this.set({ equipment: u.equipmentId, state }, u.status.state === state ? 1 : 0);
    },
  });
  const kpiGauges = (['oee', 'availability', 'performance', 'quality'] as const).map(
    (kpi) =>
      [
        kpi,
        new Gauge({
          name: `millwright_unit_${kpi}`,
          help: `${kpi === 'oee' ? 'OEE' : kpi[0]!.toUpperCase() + kpi.slice(1)} of each work unit in its site's current shift so far (0..1; absent while undefined, e.g. nothing planned).`,
          labelNames: ['equipment'],
          registers: [registry],
        }),
      ] as const,
  );
  let kpiAt = 0;
  /** The current shift's KPIs per unit, at most every 10 s (a report per site). */
  async function currentShiftKpis(): Promise<void> {
    const now = Date.now();
    if (now - kpiAt < 10_000) return;
    kpiAt = now;
    for (const [, g] of kpiGauges) g.reset();
    for (const site of hub.hierarchy.all().filter((e) => e.level === 'site')) {
      const shift = shiftAt(hub.kpi.calendarOf(`${site.id}/`).calendar, now);
      if (shift === null) continue;
      const report = await hub.kpi.oee(METRICS_READER, {
        equipment: site.id,
        from: shift.startMs,
        to: now,
        groupBy: 'shift',
        members: 'units',
      });
      for (const m of report.summary.members)
        for (const [kpi, g] of kpiGauges) {
          const v = m.kpis[kpi];
          if (v !== null) g.set({ equipment: m.id }, v);
        }
    }
  }

  return {
    contentType: registry.contentType,
    async scrape() {
      connectorMetrics();
      try {
        await currentShiftKpis();
      } catch {
        // the store is away: the other figures still answer (health says why)
      }
      try {
        for (const [target, byStatus] of Object.entries(await hub.store.countOutbox()))
          for (const [status, n] of Object.entries(byStatus))
            outboxGauge.set({ target, status }, n);
      } catch {
        // the store is away: the other figures still answer (health says why)
      }
      return registry.metrics();
    },
  };
}
