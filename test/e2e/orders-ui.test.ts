/**
 * The Orders page in a real browser (Debian's chromium through playwright-core) against a real
 * hub: the orders with their status, progress and plan; one order's operations and the actions
 * its status allows, posted with a reason that lands in the audit trail, and the hub's refusal
 * shown as it says it; the outbox per target, and its dead letters replayed and discarded with
 * a reason. A viewer sees the orders without the buttons; a hub without the API gets a line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, logInThroughForm } from '../helpers/browser.ts';
import { peer, type Peer } from '../enterprise/erp-peers.ts';
import {
  adminHeaders,
  call,
  createTestUser,
  startTestHub,
  testConfig,
  TEST_ADMIN,
  type TestHub,
} from '../helpers/hub.ts';
import { chromiumSkip, waitFor } from '../helpers/services.ts';

const skip = chromiumSkip();
const LINE = 'acme/plant1/packaging/line1';
/** An ERP order number with a "/": one URL segment, encoded. */
const ORDER = 'PO/4711';

const launch = launchChromium;

function yaml(erpUrl: string): string {
  return `
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas:
      - id: packaging
        lines:
          - id: line1
            units: [{ id: filler }, { id: capper }, { id: labeller }]
            outputUnit: labeller
materials: [{ id: FG-1L, uom: H87 }]
targets:
  - id: erp
    type: webhook
    url: ${erpUrl}/events
    retry: { initialDelay: 10ms, maxDelay: 20ms, maxAttempts: 1 }
`;
}

const order = (externalId: string, extra: Record<string, unknown> = {}) => ({
  externalId,
  material: 'FG-1L',
  quantity: '1000',
  uom: 'H87',
  operations: [
    { id: '0010', equipment: `${LINE}/filler` },
    { id: '0020', equipment: LINE },
  ],
  ...extra,
});

const logIn = (page: Page, username: string, password: string): Promise<void> =>
  logInThroughForm(page, username, password, '#orders-page');

/** The page keeps to its Content-Security-Policy and throws nothing. */
function faultsOf(page: Page): string[] {
  const faults: string[] = [];
  page.on('pageerror', (err) => faults.push(err.message));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) faults.push(m.text());
  });
  return faults;
}

describe('the Orders page in Chromium', { skip }, () => {
  let hub: TestHub;
  let erp: Peer;
  let browser: Browser;
  let admin: { authorization: string };
  /** Whether the stand-in ERP refuses deliveries (503), so they end as dead letters. */
  let erpDown = true;
  const outbox = async () =>
    (await call(hub, 'GET', '/api/v1/outbox?target=erp', { headers: admin })).body as {
      items: { id: number; type: string; orderId: string; status: string }[];
      counts: Record<string, { pending: number; delivered: number; dead: number }>;
    };
  const deadLetter = async (orderId: string) => {
    let id = 0;
    await waitFor(
      async () => {
        const m = (await outbox()).items.find((i) => i.orderId === orderId);
        id = m?.status === 'dead' ? m.id : 0;
        return id > 0;
      },
      { what: `a dead letter of order ${orderId}` },
    );
    return id;
  };
  /** A browser in the site's zone, so the times shown are known. */
  const newPage = async () =>
    (await browser.newContext({ timezoneId: 'Europe/Berlin', locale: 'en-GB' })).newPage();

  before(async () => {
    erp = await peer((_req, res) => res.writeHead(erpDown ? 503 : 200).end('{}'));
    hub = await startTestHub(testConfig(yaml(erp.url)));
    admin = await adminHeaders(hub);
    const res = await call(hub, 'POST', '/api/v1/orders', {
      headers: admin,
      body: {
        orders: [
          order(ORDER, { plannedStart: '2026-12-02T06:00:00Z', priority: 2, lot: 'L-88' }),
          order('4712', { quantity: '500', priority: 1 }),
        ],
      },
    });
    assert.equal(res.status, 201, res.text);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await hub?.dispose();
    await erp?.close();
  });

  it('lists the orders, runs one through its actions, and settles its dead letters', async () => {
    const page = await newPage();
    const faults = faultsOf(page);
    try {
      await page.goto(`${hub.url!}/#orders`);
      await logIn(page, TEST_ADMIN.username, TEST_ADMIN.password);
      assert.equal(
        await page.locator('#nav a[aria-current=page]').innerText(),
        'Orders',
        'the navigation shows where the page is',
      );

      // The list: status, material, good against planned, scrap, planned start, priority.
      const row = page.locator(`tr[data-order="${ORDER}"]`);
      await row.waitFor();
      const cells = await row.locator(':scope > td').allInnerTexts();
      assert.deepEqual(cells, [
        ORDER,
        'released',
        'FG-1L',
        '0 / 1000 H87',
        '0',
        '2026-12-02 07:00',
        '2',
      ]);
      assert.equal(await row.locator('.status').getAttribute('class'), 'status status-released');
      assert.equal(await page.locator('#order-rows tr').count(), 2);

      // The status filter asks the hub for that status only.
      await page.selectOption('#order-filter', 'running');
      await page.locator('#orders-note', { hasText: 'no running orders' }).waitFor();
      await page.selectOption('#order-filter', '');
      await row.waitFor();

      // One order: its operations and the actions its status allows.
      await row.click();
      assert.equal(new URL(page.url()).hash, `#order=${encodeURIComponent(ORDER)}`);
      const panel = page.locator('#order-panel');
      await panel.locator('#order-title', { hasText: `Order ${ORDER}` }).waitFor();
      const ops = await page.locator('#operation-rows tr').allInnerTexts();
      assert.equal(ops.length, 2);
      assert.match(ops[0]!, new RegExp(`^0010\\s+${LINE}/filler\\s+${LINE}/filler\\s+waiting`));
      assert.match(ops[1]!, new RegExp(`^0020\\s+${LINE}\\s+${LINE}/labeller\\s+waiting`));
      const buttons = () => panel.locator('#order-actions .buttons button').allInnerTexts();
      await page.locator('#order-actions button[data-action=dispatch]').waitFor();
      assert.deepEqual(await buttons(), ['Dispatch', 'Cancel']);
      assert.match(await page.locator('#order-facts').innerText(), /Lot\s+L-88/);

      // A half-typed reason survives the refreshes.
      const reason = page.locator('#order-actions input[name=reason]');
      await reason.fill('line cleared for PO');
      const refreshes = Number(await page.locator('#orders-page').getAttribute('data-refreshes'));
      await page.waitForFunction(
        (n) => Number(document.getElementById('orders-page')!.dataset.refreshes) >= n + 2,
        refreshes,
      );
      assert.equal(await reason.inputValue(), 'line cleared for PO');
      assert.equal(
        await page.evaluate(() => document.activeElement?.getAttribute('name')),
        'reason',
      );

      // Dispatch, with the reason: the buttons follow the new status; the reason is audited.
      await page.click('#order-actions button[data-action=dispatch]');
      await panel.locator('#order-badge', { hasText: 'dispatched' }).waitFor();
      await page.locator('#order-actions button[data-action=start]').waitFor();
      assert.deepEqual(await buttons(), ['Start', 'Cancel']);
      assert.equal(await reason.inputValue(), '');
      const trail = await hub.store.listAudit({ entityId: ORDER, limit: 100 });
      assert.deepEqual(trail.map((r) => [r.action, r.reason]).at(-1), [
        'order.dispatch',
        'line cleared for PO',
      ]);

      // Start: the order runs; its order.started is refused by the ERP and ends a dead letter.
      await page.click('#order-actions button[data-action=start]');
      await panel.locator('#order-badge', { hasText: 'running' }).waitFor();
      await page.locator('#operation-rows tr[data-operation="0010"] .status-running').waitFor();
      const deadId = await deadLetter(ORDER);

      // The hub's refusal is shown as it says it: 0010 runs already.
      await page.selectOption('#order-actions select[name=operation]', '0010');
      await reason.fill('again');
      await page.click('#order-actions button[data-action=start]');
      await panel
        .locator('#order-actions .err', { hasText: /operation 0010 is running/ })
        .waitFor();
      assert.equal(await reason.inputValue(), 'again', 'the typed reason stays');

      // The outbox: counts per target, the dead letter with its last error.
      const counts = page.locator('#outbox-count-rows tr[data-target=erp]');
      await counts.waitFor();
      await page.waitForFunction(
        () =>
          document.querySelector('#outbox-count-rows tr[data-target=erp] td:nth-child(4)')
            ?.textContent === '1',
      );
      const dead = page.locator(`#dead-rows tr[data-message="${deadId}"]`);
      await dead.waitFor();
      const deadCells = await dead.locator(':scope > td').allInnerTexts();
      assert.deepEqual(deadCells.slice(1, 5), ['erp', 'order.started', ORDER, '1']);
      assert.match(deadCells[5]!, /503/);

      // Replay asks for a reason in a form of its own; empty, the browser does not send it.
      erpDown = false;
      await dead.locator('button[data-action=replay]').click();
      const form = dead.locator('form.reason-form[data-action=replay]');
      await form.waitFor();
      await form.locator('button[type=submit]').click();
      assert.equal(
        await form
          .locator('input[name=reason]')
          .evaluate((i) => (i as HTMLInputElement).validity.valid),
        false,
      );
      await form.locator('input[name=reason]').fill('ERP back from maintenance');
      await form.locator('button[type=submit]').click();
      await dead.waitFor({ state: 'detached' });
      await waitFor(async () => (await outbox()).counts.erp?.delivered === 1, {
        what: 'the replayed message delivered',
      });
      assert.deepEqual(
        erp.requests.map((r) => JSON.parse(r.body.toString()).type),
        ['order.started', 'order.started'],
      );
      await page.waitForFunction(
        () =>
          document.querySelector('#outbox-count-rows tr[data-target=erp] td:nth-child(3)')
            ?.textContent === '1',
      );

      // Discard: another order's dead letter, with a reason; Cancel first leaves it as it was.
      erpDown = true;
      for (const action of ['dispatch', 'start']) {
        const res = await call(hub, 'POST', `/api/v1/orders/4712/${action}`, {
          headers: admin,
          body: {},
        });
        assert.equal(res.status, 200, res.text);
      }
      const otherId = await deadLetter('4712');
      const other = page.locator(`#dead-rows tr[data-message="${otherId}"]`);
      await other.locator('button[data-action=discard]').click();
      await other.locator('form.reason-form button.cancel').click();
      await other.locator('button[data-action=discard]').click();
      await other.locator('form.reason-form input[name=reason]').fill('order sent by hand');
      await other.locator('form.reason-form button[type=submit]').click();
      await other.waitFor({ state: 'detached' });
      const settled = await hub.store.listAudit({
        entityType: 'outbox',
        entityId: String(otherId),
        limit: 10,
      });
      assert.deepEqual(
        settled.map((r) => r.action),
        ['outbox.discard'],
      );
      assert.match(settled[0]!.reason ?? '', /^order sent by hand; /);
      await page.locator('#dead-note', { hasText: 'none' }).waitFor();

      // Closing the panel goes back to the list; the reload keeps the page.
      await page.click('#order-close');
      await panel.waitFor({ state: 'hidden' });
      assert.equal(new URL(page.url()).hash, '#orders');
      await page.reload();
      await page.locator(`tr[data-order="${ORDER}"] .status-running`).waitFor();

      // The navigation goes to the units and back.
      await page.click('#nav a[data-view=units]');
      await page.locator(`tr[data-unit="${LINE}/filler"]`).waitFor();
      assert.equal(await page.locator('#orders-page').isVisible(), false);
      await page.click('#nav a[data-view=orders]');
      await row.waitFor();
      assert.deepEqual(faults, []);
    } finally {
      await page.context().close();
    }
  });

  it('shows a viewer the order without its buttons, and says why', async () => {
    const password = await createTestUser(hub, 'vic', ['viewer']);
    const page = await newPage();
    const faults = faultsOf(page);
    try {
      await page.goto(`${hub.url!}/#order=${encodeURIComponent(ORDER)}`);
      await logIn(page, 'vic', password);
      await page.locator('#order-title', { hasText: `Order ${ORDER}` }).waitFor();
      await page
        .locator('#order-actions .note', { hasText: 'needs the permission orders.manage' })
        .waitFor();
      assert.equal(await page.locator('#order-actions button').count(), 0);
      await page.locator('#outbox-note', { hasText: 'needs the permission outbox.read' }).waitFor();
      assert.deepEqual(faults, []);
    } finally {
      await page.context().close();
    }
  });

  it('says so on a hub without the orders API, and keeps working', async () => {
    const page = await newPage();
    const faults = faultsOf(page);
    // What a hub without these routes answers (its 404 handler), for every orders/outbox call.
    const noRoute = JSON.stringify({
      error: { code: 'MW_ERR_API_NOT_FOUND', message: 'no route GET /api/v1/orders' },
    });
    await page.route(/\/api\/v1\/(orders|outbox)/, (route) =>
      route.fulfill({ status: 404, contentType: 'application/json', body: noRoute }),
    );
    try {
      await page.goto(`${hub.url!}/#order=${encodeURIComponent(ORDER)}`);
      await logIn(page, TEST_ADMIN.username, TEST_ADMIN.password);
      await page
        .locator('#orders-note', { hasText: 'Orders are not available on this hub' })
        .waitFor();
      await page
        .locator('#outbox-note', { hasText: 'The outbox is not available on this hub' })
        .waitFor();
      await page.locator('#order-error', { hasText: 'Orders are not available' }).waitFor();
      assert.equal(await page.locator('#orders').isVisible(), false);
      // The rest of the page is unharmed.
      await page.click('#nav a[data-view=units]');
      await page.locator(`tr[data-unit="${LINE}/filler"]`).waitFor();
      assert.deepEqual(faults, []);
    } finally {
      await page.context().close();
    }
  });
});
