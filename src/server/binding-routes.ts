/**
 * The engineer's view of the bindings (issue #5): each binding with, per unit it resolved to,
 * the last reading of each input and the value it derived — why a unit is in the state it is in.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { authorize } from '../compliance/roles.ts';
import type { HubView } from '../hub-view.ts';
import { parseInput } from './input.ts';
import { principalOf } from './auth.ts';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export const bindingsQuery = z.strictObject({
  equipment: z
    .string()
    .optional()
    .describe(
      'Only what bindings did for this work unit (its id, e.g. acme/plant1/packaging/line1/filler). With it, `equipment.read` is enough (operators see why their unit is in its state); without it, every binding needs `config.read`.',
    ),
});

export function registerBindingRoutes(app: FastifyInstance, hub: HubView): void {
  app.get('/api/v1/bindings', { config: { access: 'equipment.read' } }, async (request) => {
    const q = parseInput(bindingsQuery, request.query, 'query');
    if (q.equipment === undefined) authorize(principalOf(request), 'config.read');
    const traces = hub.pipeline.bindingTraces(q.equipment);
    const items = hub.config.bindings.map((b, index) => ({
      index,
      connection: b.connection,
      topic: b.topic ?? null,
      inputs: b.inputs ?? null,
      expression: b.expression ?? null,
      meaning: b.meaning,
      equipment: b.equipment ?? null,
      units: traces
        .filter((t) => t.binding === index)
        .map((t) => ({
          equipmentId: t.equipmentId,
          inputs: Object.fromEntries(
            Object.entries(t.inputs).map(([name, i]) => [name, { ...i, at: iso(i.at) }]),
          ),
          output: t.output,
          outputAt: iso(t.outputAt),
          error: t.error,
        })),
    }));
    return {
      items: q.equipment === undefined ? items : items.filter((b) => b.units.length > 0),
      unit:
        q.equipment === undefined
          ? null
          : (() => {
              const u = hub.runtime.get(q.equipment);
              return u === undefined
                ? null
                : {
                    id: u.equipmentId,
                    state: u.status.state,
                    reasonCode: u.status.reasonCode,
                    since: iso(u.status.sinceMs > 0 ? u.status.sinceMs : null),
                  };
            })(),
    };
  });
}
