/**
 * The ISA-95 equipment hierarchy (model/hierarchy.ts) of a parsed configuration: the one place
 * that turns the config's tree into the model's, so the hub, tests and benchmarks build it alike.
 */
import { Hierarchy } from '../model/hierarchy.ts';
import type { Config } from './schema.ts';

/** The hierarchy of `config`; a unit's `idealCycleTime` (ms once parsed) is its ideal cycle time. */
export function hierarchyOf(config: Config): Hierarchy {
  return new Hierarchy({
    enterprise: config.enterprise,
    sites: config.sites.map((s) => ({
      id: s.id,
      name: s.name,
      timeZone: s.timeZone,
      areas: s.areas.map((a) => ({
        id: a.id,
        name: a.name,
        lines: a.lines.map((l) => ({
          id: l.id,
          name: l.name,
          units: l.units.map((u) => ({
            id: u.id,
            name: u.name,
            idealCycleTimeMs: u.idealCycleTime,
          })),
        })),
      })),
    })),
  });
}
