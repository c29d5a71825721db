import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Debian's chromium (apt-get install chromium; scripts/test.sh installs it) driven by
 * playwright-core. Playwright starts it with a fresh temporary profile (--user-data-dir) and each
 * browser context is its own cookie jar, so one browser serves several signed-in users.
 */
export const CHROMIUM = process.env.SLIPWAY_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (scripts/test.sh does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-dev-shm-usage',
    ],
  });
}

/** Where screenshots go: SLIPWAY_SCREENSHOT_DIR (docs/images to refresh the docs) or a temp dir. */
export function screenshotDir(): string {
  const dir =
    process.env.SLIPWAY_SCREENSHOT_DIR ??
    path.join(process.env.SLIPWAY_TEST_HOMES ?? '/var/tmp/slipway-test-homes', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(screenshotDir(), `dashboard-${name}.png`), fullPage: false });
}

/** Page errors and failed API calls, collected so a test can assert the page stayed clean. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}
