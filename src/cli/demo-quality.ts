/**
 * The demo's genealogy: on the first start (no lot in the store) a small history is made
 * through the hub's own services, as people and the ERP would have made it — raw lots received,
 * a preform lot blown from the PET, a finished lot of water filled from preforms, caps and
 * labels, and an inspection of it — so the Lots page has a trace to draw and a hold to place.
 */
import { localPrincipal } from '../compliance/identity.ts';
import type { Hub } from '../hub.ts';

export async function seedDemoLots(hub: Hub): Promise<string[]> {
  const { lots, inspections } = hub.quality;
  const by = { ...localPrincipal(), actor: 'system:demo' };
  const existing = await hub.store.listRecords({ entityType: 'material-lot', limit: 1 });
  if (existing.length === 0) {
    const reason = 'demo: sample genealogy';
    await lots.receive(
      by,
      [
        { id: 'PET-2026-0412', material: 'PET-28G', quantity: '500' },
        { id: 'CAP-2026-0093', material: 'CAP-38', quantity: '20000' },
        { id: 'LBL-2026-0017', material: 'LABEL-1L', quantity: '20000' },
      ],
      reason,
    );
    const line = 'acme/plant1/packaging/line1';
    await lots.produce(by, {
      id: 'L-DEMO-0999',
      material: 'WATER-1L-6',
      quantity: '1000',
      equipment: `${line}/filler`,
      location: `${line}/labeller`,
      inputs: [
        { lot: 'PET-2026-0412', quantity: '6000', uom: 'H87' },
        { lot: 'CAP-2026-0093', quantity: '6000' },
        { lot: 'LBL-2026-0017', quantity: '6000' },
      ],
      reason,
    });
    await inspections.record(by, [
      {
        path: '',
        input: {
          lot: 'L-DEMO-0999',
          plan: 'water-release',
          results: [
            { characteristic: 'fill-volume', value: '1002' },
            { characteristic: 'cap-torque', value: 'pass' },
          ],
          reason,
        },
      },
    ]);
  }
  return ['  Lots         L-DEMO-0999 and the lots it was made from (Lots page: trace, holds)'];
}
