/**
 * The demo's ERP side: a drop folder for orders and a folder target for the transaction points,
 * both inside the demo's data folder (files stand in for the ERP: plants are offline), and two
 * sample orders placed in the inbox on the first start — one as ISA-95 B2MML, one as CSV — so
 * the Orders page has something to dispatch and start.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.ts';

/** The demo config with its folder paths inside the data folder, and those folders made. */
export function demoErpConfig(config: Config, dataDir: string): Config {
  const inside = (p: string): string => (path.isAbsolute(p) ? p : path.join(dataDir, p));
  const targets = config.targets.map((t) =>
    t.type === 'folder' ? { ...t, path: inside(t.path) } : t,
  );
  for (const t of targets) if (t.type === 'folder') mkdirSync(t.path, { recursive: true });
  const inbound = config.inbound.map((i) =>
    i.type === 'folder' ? { ...i, path: inside(i.path) } : i,
  );
  return { ...config, targets, inbound };
}

function day(offsetDays: number, hourUtc: number): string {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + offsetDays);
  d.setUTCHours(hourUtc, 0, 0, 0);
  return d.toISOString().replace('.000Z', 'Z');
}

function sampleSchedule(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- A sample order as an ERP sends it: ISA-95 B2MML V0600 ProductionSchedule (docs/erp.md). -->
<ProcessProductionSchedule xmlns="http://www.mesa.org/xml/B2MML-V0600" releaseID="V0600">
  <ApplicationArea>
    <Sender><LogicalID>DEMO-ERP</LogicalID></Sender>
    <CreationDateTime>${day(0, 5)}</CreationDateTime>
    <BODID>DEMO-PS-1</BODID>
  </ApplicationArea>
  <DataArea>
    <Process/>
    <ProductionSchedule>
      <ProductionRequest>
        <ID>DEMO-1001</ID>
        <Description>Water 1 l, cases of 6</Description>
        <StartTime>${day(0, 6)}</StartTime>
        <EndTime>${day(0, 14)}</EndTime>
        <Priority>2</Priority>
        <SegmentRequirement>
          <ID>0010</ID>
          <Description>Fill, cap, label and pack</Description>
          <EquipmentRequirement><EquipmentID>acme/plant1/packaging/line1</EquipmentID></EquipmentRequirement>
          <MaterialProducedRequirement>
            <MaterialDefinitionID>WATER-1L-6</MaterialDefinitionID>
            <MaterialLotID>L-DEMO-1001</MaterialLotID>
            <Quantity><QuantityString>500</QuantityString><UnitOfMeasure>H87</UnitOfMeasure></Quantity>
          </MaterialProducedRequirement>
        </SegmentRequirement>
      </ProductionRequest>
    </ProductionSchedule>
  </DataArea>
</ProcessProductionSchedule>
`;
}

function sampleCsv(): string {
  return [
    'order_id;material;quantity;uom;operation;equipment;planned_start;planned_end;priority;lot;description',
    `DEMO-1002;JUICE-1L;300;H87;0010;acme/plant1/packaging/line2;${day(0, 6)};${day(0, 14)};1;L-DEMO-1002;Apple juice 1 l`,
    '',
  ].join('\r\n');
}

/**
 * Place the sample orders in the inbox unless it was ever used (a file in it, its done/ or its
 * rejected/ folder). Returns the banner lines.
 */
export function seedDemoOrders(config: Config): string[] {
  const inbox = config.inbound.find((i) => i.type === 'folder');
  const outbox = config.targets.find((t) => t.type === 'folder');
  const lines: string[] = [];
  if (inbox !== undefined) {
    const files = (dir: string): number =>
      existsSync(dir) ? readdirSync(dir).filter((n) => n !== 'done' && n !== 'rejected').length : 0;
    const used =
      files(inbox.path) +
        files(path.join(inbox.path, 'done')) +
        files(path.join(inbox.path, 'rejected')) >
      0;
    if (!used) {
      mkdirSync(inbox.path, { recursive: true });
      // Written under a temporary name, then renamed, as an ERP should (docs/erp.md).
      for (const [name, text] of [
        ['demo-1001.xml', sampleSchedule()],
        ['demo-1002.csv', sampleCsv()],
      ] as const) {
        const tmp = path.join(inbox.path, `${name}.tmp`);
        writeFileSync(tmp, text);
        renameSync(tmp, path.join(inbox.path, name));
      }
    }
    lines.push(
      `  ERP inbox    ${inbox.path}  (drop B2MML or CSV orders here${used ? '' : '; two samples were placed'})`,
    );
  }
  if (outbox !== undefined)
    lines.push(
      `  ERP outbox   ${outbox.path}  (${outbox.format === 'b2mml' ? `B2MML ${outbox.b2mmlVersion}` : outbox.format} files: starts, confirmations, goods receipts)`,
    );
  return lines;
}
