import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { tempHome } from './daemon-harness.js';
import { type DaemonProcess, killVmms, linkDebianImage, startDaemonProcess } from './daemon-process.js';
import { REPO_ROOT } from './strata-cli.js';

/** Debian's Chromium (`apt-get install chromium`); browser tests never download one. */
export const CHROMIUM = process.env.STRATA_CHROMIUM ?? '/usr/bin/chromium';

/** Where browser tests write screenshots (gitignored). */
export const ARTIFACTS = join(REPO_ROOT, 'artifacts');

/** Why browser tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
}

/**
 * Launches headless Chromium with a fresh profile (Playwright makes a temporary --user-data-dir and removes it),
 * without GPU, sandbox (tests may run as root), background networking, component updates, sync or QUIC.
 */
export async function launchChromium(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/**
 * Screenshots the page at 1280x800 and at 390x844 (a phone), as artifacts/<name>-1280.png and -390.png, after
 * scrolling `scrollTo` (a selector) into view; fails the test if the page scrolls sideways at either width.
 */
export async function shoot(page: Page, name: string, scrollTo?: string): Promise<void> {
  for (const [width, height] of [
    [1280, 800],
    [390, 844],
  ] as const) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(400);
    if (scrollTo) {
      await page
        .locator(scrollTo)
        .first()
        .evaluate((el) => el.scrollIntoView({ block: 'start' }));
    }
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) {
      // Name the innermost elements that reach past the right edge, to say what to fix.
      const wide = await page.evaluate(() =>
        [...document.querySelectorAll('body *')]
          .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
          .filter((el) => ![...el.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 1))
          .slice(0, 5)
          .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`),
      );
      assert.fail(`${name} overflows sideways by ${overflow}px at ${width}px: ${wide.join(', ')}`);
    }
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${width}.png`) });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.evaluate(() => window.scrollTo(0, 0));
}

/** A real daemon with the Debian image and a Chromium page at 1280x800, torn down after the test. */
export interface WebFixture {
  daemon: DaemonProcess;
  /** The daemon's STRATA_HOME. */
  home: string;
  context: BrowserContext;
  page: Page;
  /** Uncaught errors of the page's scripts. */
  pageErrors: string[];
}

/** Signs in on the sign-in page with the daemon's token and waits for the overview. */
export async function signIn(page: Page, daemon: DaemonProcess): Promise<void> {
  await page.goto(daemon.url);
  await page.getByLabel('Access token').fill(daemon.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
}

/** Calls the daemon's API from the page, with its session cookie: the status and the parsed body. */
export async function pageApi<T = unknown>(
  page: Page,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  return page.evaluate(
    async ([m, p, b]) => {
      const res = await fetch(p as string, {
        method: m as string,
        headers: b === undefined ? {} : { 'content-type': 'application/json' },
        ...(b === undefined ? {} : { body: JSON.stringify(b) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    [method, path, body] as const,
  ) as Promise<{ status: number; body: T }>;
}

/** The text on the console's terminal screen (xterm.js rows), one line per row. */
export async function screenText(page: Page): Promise<string> {
  return page.$$eval('.xterm-rows > div', (rows) =>
    rows.map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd()).join('\n'),
  );
}

/** Waits until the console's terminal screen matches `re`. */
export async function waitForScreen(page: Page, re: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await screenText(page);
    if (re.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} on the console; screen:\n${text}`);
    await page.waitForTimeout(250);
  }
}

/** Starts a daemon in a fresh STRATA_HOME (prefix `prefix`) and a browser page; `t.after` removes every trace. */
export async function startWebFixture(
  t: { after: (fn: () => Promise<void>) => void },
  prefix: string,
): Promise<WebFixture> {
  const home = tempHome(prefix);
  await linkDebianImage(home);
  let daemon: DaemonProcess | undefined;
  let browser: Browser | undefined;
  t.after(async () => {
    // Teardown is best effort: a browser or daemon that already ended has nothing left to stop.
    await browser?.close().catch(() => undefined);
    await daemon?.stop().catch(() => undefined);
    killVmms(home);
    rmSync(home, { recursive: true, force: true });
  });
  daemon = await startDaemonProcess(home);
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return { daemon, home, context, page, pageErrors };
}
