/**
 * The live view in a real browser (Debian's chromium through playwright-core): the login form
 * appears without a session, a login shows the units with their states, logout closes the view;
 * a unit's panel shows its bindings and stops, and an unclassified stop is given its reason.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, logInThroughForm } from '../helpers/browser.ts';
import {
  adminHeaders,
  call,
  createTestUser,
  PLANT_YAML,
  startTestHub,
  testConfig,
  TEST_ADMIN,
  type TestHub,
} from '../helpers/hub.ts';
import { chromiumSkip } from '../helpers/services.ts';

const skip = chromiumSkip();
const FILLER = 'acme/plant1/packaging/line1/filler';

const launch = launchChromium;

const logIn = (page: Page, username: string, password: string): Promise<void> =>
  logInThroughForm(page, username, password, '#view');

describe('the live view in Chromium', { skip }, () => {
  let hub: TestHub;
  let browser: Browser;

  before(async () => {
    hub = await startTestHub(testConfig(PLANT_YAML));
    await adminHeaders(hub); // creates the admin
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await hub?.dispose();
  });

  it('asks for a login, shows the units after it, and closes the view at logout', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(hub.url!);
      await page.locator('#login').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#view').isVisible(), false);

      await page.fill('#username', TEST_ADMIN.username);
      await page.fill('#password', 'wrong password here');
      await page.click('#login button[type=submit]');
      await page.locator('#error').getByText('wrong user name or password').waitFor();

      await page.fill('#password', TEST_ADMIN.password);
      await page.click('#login button[type=submit]');
      await page.locator(`tr[data-unit="${FILLER}"]`).waitFor();
      assert.equal(await page.locator('#login').isVisible(), false);
      assert.match(await page.locator('#user').innerText(), /logged in as admin/);
      // The session is an HttpOnly cookie: the page's script cannot read it.
      assert.equal(await page.evaluate(() => document.cookie), '');

      await page.click('#logout');
      await page.locator('#login').waitFor({ state: 'visible' });
      assert.equal(await page.locator('#view').isVisible(), false);
      const rows = await hub.store.listAudit({ entityId: TEST_ADMIN.username, limit: 100 });
      assert.deepEqual(rows.map((r) => r.action).slice(-3), ['login.failed', 'login', 'logout']);
    } finally {
      await page.close();
    }
  });
});

describe('a unit’s panel in Chromium: its bindings and its stops', { skip }, () => {
  const YAML =
    PLANT_YAML.replace(
      '    timeZone: Europe/Berlin',
      `    timeZone: Europe/Berlin
    reasons:
      - { code: JAM, name: Bottle jam, category: mechanical, plcCodes: ['17'] }
      - { code: ELEC, name: Electrical fault, category: electrical }`,
    ) +
    `
materials: [{ id: RESIN, uom: KGM, conversions: ['1 H87 = 0.5 KGM'] }]
connections: [{ id: plc, type: mqtt }]
bindings:
  - connection: plc
    topic: 'plc/{line}/{unit}/state'
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: state
    payload: { valuePath: s, reasonPath: r, timestampPath: ts }
  - connection: plc
    topic: 'plc/{line}/{unit}/resin'
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: consumption
    material: RESIN
    uom: H87
`;
  // Whole minutes an hour ago, so the times shown are known to the second.
  const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 60 * 60_000;
  const minute = (m: number) => T0 + m * 60_000;
  /** A time as the panel shows it in the site's zone (sv-SE writes YYYY-MM-DD HH:MM:SS). */
  const berlin = (ms: number) =>
    new Date(ms).toLocaleString('sv-SE', { timeZone: 'Europe/Berlin' });
  const stopsUrl = `/api/v1/equipment/${FILLER}/downtimes`;

  let hub: TestHub;
  let browser: Browser;
  let device: MqttClient;
  let admin: { authorization: string };
  const state = (s: string, r: string | null, m: number) =>
    device.publishAsync('plc/line1/filler/state', JSON.stringify({ s, r, ts: minute(m) }), {
      qos: 1,
    });
  const stops = async () =>
    (await call(hub, 'GET', stopsUrl, { headers: admin })).body.items as {
      seq: number;
      plcReasonCode: string | null;
      reason: { code: string } | null;
      reasonSource: string | null;
      comment: string | null;
      classifiedBy: string | null;
    }[];
  /** A browser whose own time zone is not the site's, so the panel must use the site's. */
  const newPage = async () =>
    (await browser.newContext({ timezoneId: 'America/Sao_Paulo', locale: 'en-US' })).newPage();

  before(async () => {
    hub = await startTestHub(testConfig(YAML));
    admin = await adminHeaders(hub);
    device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
    await state('running', null, 0);
    await state('down', '17', 10); // JAM through the reason tree
    await state('running', null, 14);
    await state('down', '99', 30); // a code the tree does not know: unclassified, still down
    // A totaliser in pieces: 150 − 100 = 50 pieces of resin, booked as 25 KGM.
    for (const n of [100, 150])
      await device.publishAsync('plc/line1/filler/resin', String(n), { qos: 1 });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await device?.endAsync();
    await hub?.dispose();
  });

  it('shows why the unit is down, and classifies its stop through the form', async () => {
    const [jam, open] = await stops();
    assert.equal(jam?.reason?.code, 'JAM');
    assert.equal(open?.reason, null);
    const page = await newPage();
    // The page keeps to its Content-Security-Policy and throws nothing.
    const faults: string[] = [];
    page.on('pageerror', (err) => faults.push(err.message));
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) faults.push(m.text());
    });
    try {
      await page.goto(hub.url!);
      await logIn(page, TEST_ADMIN.username, TEST_ADMIN.password);
      // The table gives the time of day in the site's zone too.
      const unitRow = page.locator(`tr[data-unit="${FILLER}"]`);
      await unitRow
        .locator('td')
        .nth(3)
        .getByText(berlin(minute(30)).slice(11))
        .waitFor();
      await unitRow.click();
      const panel = page.locator('#panel');
      await panel.waitFor({ state: 'visible' });
      assert.equal(new URL(page.url()).hash, `#unit=${encodeURIComponent(FILLER)}`);
      await panel.locator('#panel-state', { hasText: 'down' }).waitFor();
      assert.equal(await panel.locator('#panel-reason').innerText(), '(99)');
      assert.match(await panel.locator('#panel-tz').innerText(), /Europe\/Berlin, the site’s/);
      assert.equal(
        await panel.locator('#panel-materials').innerText(),
        'Material used: RESIN 25 KGM',
      );
      // Today, per site: each line's output unit, and the material the site used.
      await page.locator('#today-materials', { hasText: 'RESIN 25 KGM' }).waitFor();
      const today = await page.locator('#today-rows tr').allInnerTexts();
      assert.equal(today.length, 1);
      assert.match(
        today[0]!,
        /^plant1 \(\d{4}-\d{2}-\d{2}, Europe\/Berlin\)\s+line1\s+labeller\s+0\s+0\s+0$/,
      );

      // Bindings: the reading and the state it derived, in explain's words.
      const binding = page.locator('#binding-rows tr[data-key="0"]');
      await binding.locator('.output', { hasText: '→ "down"' }).waitFor();
      assert.match(await binding.locator('td').first().innerText(), /bindings\[0\] state from plc/);
      const input = binding.locator('ul.inputs li');
      assert.equal(await input.count(), 1);
      assert.equal(await input.locator('.value').innerText(), '"down"');
      assert.match(await input.innerText(), /good at .*\[plc\/line1\/filler\/state\]/);
      assert.match(await input.innerText(), new RegExp(` at ${berlin(minute(30))} `));
      assert.equal(await binding.locator('td.refused').count(), 0);

      // Stops: newest first, times in the site's zone.
      const openRow = page.locator(`#stop-rows tr[data-seq="${open!.seq}"]`);
      const jamRow = page.locator(`#stop-rows tr[data-seq="${jam!.seq}"]`);
      await openRow.waitFor();
      const cells = async (row: typeof openRow) => row.locator(':scope > td').allInnerTexts();
      const [start, duration, st, plc, reason] = await cells(openRow);
      assert.equal(start, berlin(minute(30)));
      assert.match(duration!, /\(ongoing\)$/);
      assert.equal(st, 'down');
      assert.equal(plc, '99');
      assert.equal(reason, 'unclassified');
      const jamCells = await cells(jamRow);
      assert.deepEqual(jamCells.slice(0, 4), [berlin(minute(10)), '4 min 00 s', 'down', '17']);
      assert.match(jamCells[4]!, /Bottle jam \(JAM\) · mechanical\s+from the PLC code/);
      assert.equal(
        await page.locator('#stop-rows tr').first().getAttribute('data-seq'),
        String(open!.seq),
      );
      // The codes the stops show are offered to pick from.
      assert.equal(await page.locator('#reason-codes option[value="JAM"]').count(), 1);

      // A half-typed comment survives the panel's refreshes.
      const form = openRow.locator('form.classify');
      await form.locator('input[name=comment]').fill('breaker tripped');
      const refreshes = Number(await panel.getAttribute('data-refreshes'));
      await page.waitForFunction(
        (n) => Number(document.getElementById('panel')!.dataset.refreshes) >= n + 2,
        refreshes,
      );
      assert.equal(await form.locator('input[name=comment]').inputValue(), 'breaker tripped');
      assert.equal(
        await page.evaluate(() => document.activeElement?.getAttribute('name')),
        'comment',
      );

      // The picker offers the site's whole reason tree (ELEC is on no stop yet).
      assert.deepEqual(
        await page
          .locator('#reason-codes option')
          .evaluateAll((os) => os.map((o) => [(o as HTMLOptionElement).value, o.textContent])),
        [
          ['ELEC', 'Electrical fault · electrical'],
          ['JAM', 'Bottle jam · mechanical'],
        ],
      );

      // The server's refusal is shown as it says it; the typed text stays.
      await form.locator('input[name=reason]').fill('GREMLINS');
      await form.locator('button[type=submit]').click();
      await form.locator('.err', { hasText: 'unknown reason "GREMLINS"' }).waitFor();
      assert.match(await form.locator('.err').innerText(), /reasons of this site: JAM, ELEC/);
      assert.equal(await form.locator('input[name=comment]').inputValue(), 'breaker tripped');

      await form.locator('input[name=reason]').fill('ELEC');
      await form.locator('input[name=comment]').fill('breaker tripped on the conveyor motor');
      await form.locator('button[type=submit]').click();
      await openRow.locator('.reason-name', { hasText: 'Electrical fault' }).waitFor();
      const done = await cells(openRow);
      assert.match(done[4]!, /Electrical fault \(ELEC\) · electrical\s+assigned/);
      assert.match(done[6]!, /^breaker tripped on the conveyor motor\s+by user:admin at \d{4}-/);
      assert.equal(await openRow.locator('form').count(), 0);
      const classified = (await stops()).find((s) => s.seq === open!.seq);
      assert.equal(classified?.reason?.code, 'ELEC');
      assert.equal(classified?.reasonSource, 'assigned');
      assert.equal(classified?.comment, 'breaker tripped on the conveyor motor');
      assert.equal(classified?.classifiedBy, 'user:admin');

      // A reading the binding refuses is shown, highlighted, as its last error.
      await device.publishAsync(
        'plc/line1/filler/state',
        JSON.stringify({ s: 'exploded', r: null, ts: minute(40) }),
        { qos: 1 },
      );
      await binding.locator('td.refused', { hasText: /exploded/ }).waitFor();
      assert.equal(await binding.locator('.output').innerText(), '→ "down"');

      // The link reloads to the same panel.
      await page.reload();
      await openRow.locator('.reason-name', { hasText: 'Electrical fault' }).waitFor();
      assert.equal(await panel.locator('#panel-title').innerText(), 'filler');
      assert.deepEqual(faults, []);
    } finally {
      await page.context().close();
    }
  });

  it('shows a viewer the stops and bindings from a link, without the form', async () => {
    await state('running', null, 50);
    await state('down', '55', 55);
    const open = (await stops()).find((s) => s.plcReasonCode === '55');
    assert.ok(open);
    const password = await createTestUser(hub, 'vic', ['viewer']);
    const page = await newPage();
    try {
      await page.goto(`${hub.url!}/#unit=${encodeURIComponent(FILLER)}`);
      await logIn(page, 'vic', password);
      const row = page.locator(`#stop-rows tr[data-seq="${open.seq}"]`);
      await row.locator('.unclassified').waitFor();
      assert.match(await row.innerText(), /needs the permission production\.record/);
      assert.equal(await page.locator('form.classify').count(), 0);
      // Why the unit is in its state is for everyone who may see the unit (equipment.read).
      await page.locator('#bindings').waitFor();
      assert.match(await page.locator('#bindings').innerText(), /"down"/);
      // Closing the panel clears the link.
      await page.click('#panel-close');
      await page.locator('#panel').waitFor({ state: 'hidden' });
      assert.equal(new URL(page.url()).hash, '');
    } finally {
      await page.context().close();
    }
  });
});
