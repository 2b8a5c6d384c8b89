import { existsSync } from 'node:fs';
import type { LaunchOptions } from 'playwright-core';

/** Debian's Chromium, as the console's browser test and its bench drive it (playwright-core brings none). */
export const CHROMIUM = '/usr/bin/chromium';
export const chromiumAvailable = () => existsSync(CHROMIUM);

/** Headless and quiet: no sandbox (containers), no GPU, nothing fetched in the background to skew timings. */
export const CHROMIUM_LAUNCH = {
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
  ],
} as const satisfies LaunchOptions;
