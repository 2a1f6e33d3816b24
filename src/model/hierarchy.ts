/**
 * ISA-95 Part 1 role-based equipment hierarchy: enterprise → site → area → work center (line)
 * → work unit. Pure data and functions; no I/O.
 */

export const EQUIPMENT_LEVELS = ['enterprise', 'site', 'area', 'workCenter', 'workUnit'] as const;
export type EquipmentLevel = (typeof EQUIPMENT_LEVELS)[number];

/** One node of the hierarchy. `id` is its path from the enterprise: `acme/plant1/packaging/line1/filler`. */
export interface Equipment {
  readonly id: string;
  /** The node's own id, unique among its siblings (the last path segment). */
  readonly localId: string;
  readonly name: string;
  readonly level: EquipmentLevel;
  readonly parentId: string | null;
  /** IANA time zone of the site the node belongs to (undefined only for the enterprise). */
  readonly timeZone: string | undefined;
  /** Work units only: the ideal cycle time in seconds, when configured. */
  readonly idealCycleTimeS: number | undefined;
  readonly childIds: readonly string[];
}

/** Plain input tree, as the configuration describes it. */
export interface HierarchyInput {
  readonly enterprise: { readonly id: string; readonly name?: string | undefined };
  readonly sites: readonly {
    readonly id: string;
    readonly name?: string | undefined;
    readonly timeZone: string;
    readonly areas: readonly {
      readonly id: string;
      readonly name?: string | undefined;
      readonly lines: readonly {
        readonly id: string;
        readonly name?: string | undefined;
        readonly units: readonly {
          readonly id: string;
          readonly name?: string | undefined;
          readonly idealCycleTimeMs?: number | undefined;
        }[];
      }[];
    }[];
  }[];
}

export class Hierarchy {
  readonly enterpriseId: string;
  private readonly byId = new Map<string, Equipment>();

  constructor(input: HierarchyInput) {
    this.enterpriseId = input.enterprise.id;
    const add = (
      localId: string,
      name: string | undefined,
      level: EquipmentLevel,
      parent: Equipment | null,
      timeZone: string | undefined,
      idealCycleTimeMs?: number,
    ): Equipment => {
      const id = parent === null ? localId : `${parent.id}/${localId}`;
      const node: Equipment = {
        id,
        localId,
        name: name ?? localId,
        level,
        parentId: parent?.id ?? null,
        timeZone,
        idealCycleTimeS: idealCycleTimeMs === undefined ? undefined : idealCycleTimeMs / 1000,
        childIds: [],
      };
      this.byId.set(id, node);
      if (parent !== null) (parent.childIds as string[]).push(id);
      return node;
    };
    const enterprise = add(
      input.enterprise.id,
      input.enterprise.name,
      'enterprise',
      null,
      undefined,
    );
    for (const s of input.sites) {
      const site = add(s.id, s.name, 'site', enterprise, s.timeZone);
      for (const a of s.areas) {
        const area = add(a.id, a.name, 'area', site, s.timeZone);
        for (const l of a.lines) {
          const line = add(l.id, l.name, 'workCenter', area, s.timeZone);
          for (const u of l.units)
            add(u.id, u.name, 'workUnit', line, s.timeZone, u.idealCycleTimeMs);
        }
      }
    }
  }

  get(id: string): Equipment | undefined {
    return this.byId.get(id);
  }

  /** All nodes, parents before children. */
  all(): Equipment[] {
    return [...this.byId.values()];
  }

  workUnits(): Equipment[] {
    return this.all().filter((e) => e.level === 'workUnit');
  }

  /** The enterprise node. */
  root(): Equipment {
    const root = this.byId.get(this.enterpriseId);
    if (root === undefined) throw new Error('hierarchy has no enterprise');
    return root;
  }
}
