/**
 * The read plan: the tags of one device, poll group and table, coalesced into as few requests as
 * the protocol allows. A request reads at most 125 registers (FC3/FC4) or 2000 bits (FC1/FC2)
 * (Modbus Application Protocol V1.1b §6.1–6.4); tags farther apart than `maxGap` unused items go
 * to separate requests, so a block never spans a large unused range (which a device may not
 * serve: exception 2, illegal data address).
 */
import { isBitTable, type ModbusTable } from './config.ts';
import type { RegisterLayout } from './codec.ts';

/** Largest read per request (Modbus Application Protocol V1.1b §6.1, §6.2, §6.3, §6.4). */
export const MAX_READ_REGISTERS = 125;
export const MAX_READ_BITS = 2000;

export interface PlannedTag {
  readonly name: string;
  readonly unitId: number;
  readonly table: ModbusTable;
  readonly address: number;
  /** Registers or bits the tag takes. */
  readonly size: number;
  /** null for coils and discrete inputs. */
  readonly layout: RegisterLayout | null;
  readonly pollGroup: string;
}

export interface ReadBlock {
  readonly unitId: number;
  readonly table: ModbusTable;
  readonly start: number;
  readonly count: number;
  readonly tags: readonly PlannedTag[];
}

/** Coalesce tags (all of one unit, poll group and table) into read blocks. */
export function planBlocks(tags: readonly PlannedTag[], maxGapRegisters: number): ReadBlock[] {
  const first = tags[0];
  if (first === undefined) return [];
  const bits = isBitTable(first.table);
  const maxCount = bits ? MAX_READ_BITS : MAX_READ_REGISTERS;
  // The same bytes on the wire: a gap of 16 bits costs what one register does.
  const maxGap = bits ? maxGapRegisters * 16 : maxGapRegisters;
  const sorted = [...tags].sort((a, b) => a.address - b.address || b.size - a.size);
  const blocks: ReadBlock[] = [];
  let start = first.address;
  let end = start; // exclusive
  let members: PlannedTag[] = [];
  const close = (): void => {
    if (members.length > 0)
      blocks.push({
        unitId: first.unitId,
        table: first.table,
        start,
        count: end - start,
        tags: members,
      });
  };
  for (const tag of sorted) {
    const tagEnd = tag.address + tag.size;
    const fits =
      members.length > 0 &&
      tag.address - end <= maxGap &&
      Math.max(end, tagEnd) - start <= maxCount;
    if (fits) {
      end = Math.max(end, tagEnd);
      members.push(tag);
      continue;
    }
    close();
    start = tag.address;
    end = tagEnd;
    members = [tag];
  }
  close();
  return blocks;
}
