/**
 * The latest committed value of every tag, per connection: what `GET /api/v1/connections/{id}/tags`
 * and `millwright tags --watch` show. Fed from the pipeline's `committed` event, so it shows
 * only what is stored. Bounded: beyond `maxTags` per connection new tags are not tracked (and
 * counted), so a device flooding distinct tag names cannot grow the hub's memory.
 */
import type { SampleRecord } from '../store/types.ts';

export interface LiveValue {
  readonly value: SampleRecord['value'];
  readonly quality: SampleRecord['quality'];
  readonly status: string | null;
  readonly sourceTs: number;
  readonly receivedTs: number;
  readonly equipmentId: string | null;
}

export class LiveValues {
  private readonly byConnection = new Map<string, Map<string, LiveValue>>();
  private untracked = 0;

  constructor(private readonly maxTags = 100_000) {}

  update(samples: readonly SampleRecord[]): void {
    for (const s of samples) {
      let tags = this.byConnection.get(s.connectionId);
      if (tags === undefined) {
        tags = new Map();
        this.byConnection.set(s.connectionId, tags);
      }
      const previous = tags.get(s.tag);
      if (previous === undefined && tags.size >= this.maxTags) {
        this.untracked++;
        continue;
      }
      // A late, older reading does not replace a newer one.
      if (previous !== undefined && previous.sourceTs > s.sourceTs) continue;
      tags.set(s.tag, {
        value: s.value,
        quality: s.quality,
        status: s.status ?? null,
        sourceTs: s.sourceTs,
        receivedTs: s.receivedTs,
        equipmentId: s.equipmentId,
      });
    }
  }

  /** The tags of a connection, sorted by name. */
  of(connectionId: string): [string, LiveValue][] {
    return [...(this.byConnection.get(connectionId) ?? new Map<string, LiveValue>())].sort(
      ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0),
    );
  }

  get(connectionId: string, tag: string): LiveValue | undefined {
    return this.byConnection.get(connectionId)?.get(tag);
  }

  count(connectionId: string): number {
    return this.byConnection.get(connectionId)?.size ?? 0;
  }

  /** Samples not tracked because a connection reached `maxTags`. */
  get untrackedSamples(): number {
    return this.untracked;
  }
}
