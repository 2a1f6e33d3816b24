/** Debian's chromium for the live-view tests (playwright-core; no browser is ever downloaded). */
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM } from './services.ts';

/** Headless chromium with the flags this machine needs (no background networking, no sandbox as root). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
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
}

/** Log in through the page's form and wait until `ready` (a selector) shows. */
export async function logInThroughForm(
  page: Page,
  username: string,
  password: string,
  ready = '#view',
): Promise<void> {
  await page.locator('#login').waitFor({ state: 'visible' });
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#login button[type=submit]');
  await page.locator(ready).waitFor({ state: 'visible' });
}
