/**
 * The live view in a real browser (Debian's chromium through playwright-core): the login form
 * appears without a session, a login shows the units with their states, logout closes the view.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import {
  adminHeaders,
  PLANT_YAML,
  startTestHub,
  testConfig,
  TEST_ADMIN,
  type TestHub,
} from '../helpers/hub.ts';
import { CHROMIUM, chromiumSkip } from '../helpers/services.ts';

const skip = chromiumSkip();

describe('the live view in Chromium', { skip }, () => {
  let hub: TestHub;
  let browser: Browser;

  before(async () => {
    hub = await startTestHub(testConfig(PLANT_YAML));
    await adminHeaders(hub); // creates the admin
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
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
      await page.locator('tr[data-unit="acme/plant1/packaging/line1/filler"]').waitFor();
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
