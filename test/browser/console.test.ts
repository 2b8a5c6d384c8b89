import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_LAUNCH, chromiumAvailable } from '../helpers/chromium.js';
import { apiClient } from '../helpers/local-api.js';
import { type Started, start, stop, waitFor } from '../helpers/npm-start.js';
import { startOidcProvider, TEST_AUDIENCE, type TestOidcProvider } from '../helpers/oidc-provider.js';

/**
 * The operator console in a real browser (Debian's Chromium, driven by playwright-core) against
 * `npm start`: sign in (API key, and the OIDC issuer with PKCE), build a schedule with a parallel stage, watch it run, cancel, retry, see the
 * worker. Locally it is skipped, saying so, where Chromium is missing; `.ci/run` sets
 * REQUIRE_CHROMIUM=1, so CI fails instead of skipping.
 */

const available = chromiumAvailable();
const required = process.env.REQUIRE_CHROMIUM === '1';
if (!available && !required) {
  console.warn(`${CHROMIUM} not found: the console's browser test is skipped (apt-get install chromium).`);
}
/** Screenshots for a person to look at; gitignored. */
const ARTEFACTS = join(process.cwd(), 'test-results');
const ADMIN_KEY = `sek_browser${'0'.repeat(32)}`;

describe.runIf(available || required)('the operator console', () => {
  let service: Started;
  let issuer: TestOidcProvider;
  let browser: BrowserContext;
  let page: Page;
  let consoleUrl: string;
  const scratch = mkdtempSync(join(tmpdir(), 'console-browser-'));
  const userData = mkdtempSync(join(tmpdir(), 'console-chromium-'));

  beforeAll(async () => {
    issuer = await startOidcProvider('RS256', {
      user: { name: 'Olivia Operator', roles: ['Administrator'] },
    });
    service = start({
      OIDC_ISSUER: issuer.issuer,
      OIDC_AUDIENCE: TEST_AUDIENCE,
      PORT: '0',
      LOCAL_IN_MEMORY: 'true',
      LOCAL_CRON: 'false',
      // Workers beat every third of this: the cancelled step hears of it within 5 s, not 40 s, so
      // stopping npm start does not wait for it.
      STEP_HEARTBEAT_TIMEOUT_SECONDS: '15',
      LOCAL_ADMIN_API_KEY: ADMIN_KEY,
    });
    consoleUrl = (
      await waitFor(service, /operator console: (http:\/\/localhost:\d+\/)/, 90_000)
    )[1] as string;
    await waitFor(service, /try: curl/);
    browser = await chromium.launchPersistentContext(userData, {
      ...CHROMIUM_LAUNCH,
      viewport: { width: 1366, height: 900 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    // Destructive actions ask first (cancel, delete, revoke): the operator says yes.
    page.on('dialog', (dialog) => void dialog.accept());
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (service) await stop(service);
    await issuer?.stop();
    rmSync(scratch, { recursive: true, force: true });
    rmSync(userData, { recursive: true, force: true });
  });

  const api = () => apiClient({ apiUrl: `${consoleUrl}api/v1`, adminApiKey: ADMIN_KEY });
  const stepCard = (name: string) => page.getByRole('listitem', { name, exact: true });
  const executionStatus = () => page.locator('.summary .status');
  const rows = () => page.locator('tbody tr');
  /** The focused element, as "TAG: text", to see where keyboard and screen reader users are. */
  const focused = (tab: Page = page) =>
    tab.evaluate(() => `${document.activeElement?.tagName}: ${document.activeElement?.textContent}`);
  /** What a screen reader reads after a field's label: its hint and its error, via aria-describedby. */
  const description = (field: ReturnType<Page['getByLabel']>) =>
    field.evaluate((element) =>
      (element.getAttribute('aria-describedby') ?? '')
        .split(' ')
        .map((id) => document.getElementById(id)?.textContent ?? '')
        .join(' '),
    );

  it('signs in with an API key kept in sessionStorage only', async () => {
    const opened = Date.now();
    await page.goto(consoleUrl);
    await page.getByLabel('API key').waitFor();
    console.log(`console: sign-in form shown ${Date.now() - opened} ms after navigation`);

    // The service down at sign-in: said in words, not as a failed fetch.
    await page.route('**/api/v1/**', (route) => route.abort('connectionrefused'));
    await page.getByLabel('API key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in with API key' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('could not be reached');
    await page.unroute('**/api/v1/**');

    await page.getByLabel('API key').fill('sek_not-a-key');
    await page.getByRole('button', { name: 'Sign in with API key' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('refused');

    await page.getByLabel('API key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in with API key' }).click();
    await page.getByRole('heading', { name: 'Schedules' }).waitFor();

    const storage = await page.evaluate(() => ({
      session: JSON.stringify(sessionStorage),
      local: JSON.stringify(localStorage),
    }));
    expect(storage.session).toContain(ADMIN_KEY);
    expect(storage.local).not.toContain(ADMIN_KEY);
  });

  it("lands on the new page's heading and invites the first schedule when there are none", async () => {
    await expect.poll(() => focused()).toBe('H1: Schedules');
    await page.getByText('No schedules yet').waitFor();
    expect(await page.locator('table').count()).toBe(0);
    mkdirSync(ARTEFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTEFACTS, 'console-empty.png') });

    await page.getByRole('link', { name: 'Create schedule' }).click();

    await page.getByRole('heading', { name: 'New schedule' }).waitFor();
    // The console moves focus to the new page's heading just after it renders.
    await expect.poll(() => focused()).toBe('H1: New schedule');
    await page.goto(`${consoleUrl}#/schedules`);
  });

  it('offers a visible skip to content as the first stop, which stays on the page', async () => {
    // A fresh load: the keyboard starts from the top of the document.
    await page.reload();
    await page.getByRole('heading', { name: 'Schedules' }).waitFor();
    const before = page.url();

    await page.keyboard.press('Tab');

    expect(await focused()).toBe('BUTTON: Skip to content');
    const box = await page.getByRole('button', { name: 'Skip to content' }).boundingBox();
    expect(box?.x).toBeGreaterThanOrEqual(0);
    await page.keyboard.press('Enter');
    await expect.poll(() => focused()).toBe('H1: Schedules');
    expect(page.url()).toBe(before);
  });

  it('signs in with the OIDC issuer: authorization code with PKCE, the code kept out of the address', async () => {
    // A tab of its own: sessionStorage is per tab, so it starts signed out.
    const tab = await browser.newPage();
    await tab.goto(consoleUrl);

    await tab.getByRole('button', { name: `Sign in with ${new URL(issuer.issuer).host}` }).click();

    await tab.getByRole('heading', { name: 'Schedules' }).waitFor();
    expect(issuer.requests.some((path) => path.startsWith('/authorize?'))).toBe(true);
    expect(issuer.requests).toContain('/token');
    expect(new URL(tab.url()).search).toBe('');
    const credential = await tab.evaluate(() =>
      JSON.parse(sessionStorage.getItem('console.credential') ?? '{}'),
    );
    expect(credential.kind).toBe('bearer');

    // Signing out forgets the token and leaves the keyboard on the key field, not on the gone button.
    await tab.getByRole('button', { name: 'Sign out' }).click();
    await tab.getByLabel('API key').waitFor();
    // Focus moves once the form has rendered: looked at until it has.
    await expect.poll(() => focused(tab)).toBe('INPUT: ');
    expect(await tab.evaluate(() => document.activeElement?.id)).toBe('api-key');
    expect(await tab.evaluate(() => sessionStorage.getItem('console.credential'))).toBeNull();
    await tab.close();
  });

  it('refuses a sign-in answer this browser did not ask for', async () => {
    const tab = await browser.newPage();

    await tab.goto(`${consoleUrl}?code=stolen&state=forged`);

    await expect.poll(() => tab.getByRole('alert').textContent()).toContain('does not match a request');
    await tab.getByLabel('API key').waitFor();
    await tab.close();
  });

  it('creates a schedule with a parallel stage and watches it run to Completed', async () => {
    await page.getByRole('link', { name: 'New schedule' }).click();
    await page.locator('#schedule-name').fill('Browser delta cycle');
    const steps = [
      {
        name: 'Import LDAP',
        mode: 'Sequential',
        args: '-c "echo importing; sleep 4; echo imported 42 objects"',
      },
      {
        name: 'Import HR',
        mode: 'ParallelWithPrevious',
        args: '-c "echo importing; sleep 4; echo imported 7 people"',
      },
      { name: 'Sync', mode: 'Sequential', args: '-c "echo synced"' },
    ];
    for (const [index, step] of steps.entries()) {
      await page.getByRole('button', { name: 'Add step' }).click();
      const editor = page.getByRole('group', { name: new RegExp(`^Step ${index + 1}`) });
      await editor.getByLabel('Name').fill(step.name);
      if (index > 0) await editor.getByLabel('Runs').selectOption(step.mode);
      await editor.getByLabel('Executable path').fill('/bin/sh');
      await editor.getByLabel('Arguments').fill(step.args);
    }
    await page.getByRole('button', { name: 'Create schedule' }).click();
    await page.getByRole('heading', { name: 'Browser delta cycle' }).waitFor();
    // The two imports share stage 1.
    const firstStage = page.locator('.stage').first();
    await expect.poll(() => firstStage.textContent()).toMatch(/Import LDAP.*Import HR/);

    await page.getByRole('button', { name: 'Run now' }).click();

    await expect
      .poll(() => stepCard('Import LDAP').locator('.status').textContent(), { timeout: 20_000 })
      .toBe('Processing');
    await expect.poll(() => stepCard('Import HR').locator('.status').textContent()).toBe('Processing');
    await expect
      .poll(() => page.getByRole('listitem', { name: /Stage 1, 2 steps in parallel/ }).count())
      .toBe(1);
    await expect
      .poll(() => stepCard('Import LDAP').locator('.status').textContent(), { timeout: 20_000 })
      .toBe('Completed');
    await expect.poll(() => executionStatus().textContent(), { timeout: 20_000 }).toBe('Completed');
    const output = stepCard('Import LDAP').locator('.output');
    await expect.poll(() => output.textContent()).toContain('imported 42 objects');
    expect(await output.isVisible()).toBe(true);
    await expect.poll(() => stepCard('Sync').locator('.status').textContent()).toBe('Completed');
    // Status changes are announced politely; the timeline, which changes far more, is not live.
    expect(
      await page.locator('[aria-live]').evaluateAll((live) => live.map((node) => node.className)),
    ).toEqual(['summary']);
    expect(await page.locator('.summary[aria-live="polite"] .status').count()).toBe(1);
    expect(await page.locator('[aria-live] .timeline, .timeline [aria-live]').count()).toBe(0);

    mkdirSync(ARTEFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTEFACTS, 'console-execution.png'), fullPage: true });
  });

  it("shows the API's validation errors beside their fields, then the saved cron schedule's next fire times", async () => {
    await page.goto(`${consoleUrl}#/schedules/new`);
    await page.locator('#schedule-name').fill('Browser weekday export');
    await page.getByLabel('Trigger').selectOption('Cron');
    const cron = page.getByLabel('Cron expression');
    await cron.fill('61 6 * * MON-FRI');
    await page.getByLabel('Time zone').fill('Europe/London');
    await page.getByRole('button', { name: 'Add step' }).click();
    const editor = page.getByRole('group', { name: /^Step 1/ });
    await editor.getByLabel('Executable path').fill('/bin/true');
    const stepName = editor.getByLabel('Name');

    await page.getByRole('button', { name: 'Create schedule' }).click();

    await expect.poll(() => cron.getAttribute('aria-invalid')).toBe('true');
    expect(await description(cron)).toMatch(/5 fields.*Invalid cron expression/);
    expect(await stepName.getAttribute('aria-invalid')).toBe('true');
    expect(await description(stepName)).toBe('Required');
    expect(await page.locator('#schedule-name').getAttribute('aria-invalid')).toBeNull();
    // The summary at the top names the same fields, for whoever starts reading there.
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('steps[0].name');
    mkdirSync(ARTEFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTEFACTS, 'console-validation.png'), fullPage: true });

    await cron.fill('0 6 * * MON-FRI');
    await stepName.fill('Export');
    await page.getByRole('button', { name: 'Create schedule' }).click();

    await page.getByRole('heading', { name: 'Browser weekday export' }).waitFor();
    const id = new URL(page.url()).hash.split('/')[2] as string;
    const expected = await api().get(`/schedules/${id}/next-runs?count=10`);
    const shown = page.locator('.next-runs time');
    await expect.poll(() => shown.count()).toBe(10);
    expect(await shown.evaluateAll((times) => times.map((time) => time.getAttribute('datetime')))).toEqual(
      expected.body.nextRuns,
    );
    await page.getByText('Disabled: these are the times it would fire if enabled now.').waitFor();
  });

  it("edits a schedule's step and shows the change in the detail and over the API", async () => {
    const listed = await api().get('/schedules?search=Browser%20delta%20cycle');
    const before = listed.body.items[0];
    const original = (await api().get(`/schedules/${before.id}`)).body;
    await page.goto(`${consoleUrl}#/schedules/${before.id}`);
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit Browser delta cycle' }).waitFor();
    expect(await focused()).toBe('H1: Edit Browser delta cycle');
    const editor = page.getByRole('group', { name: 'Step 3: Sync' });
    await editor.getByLabel('Name').fill('Sync and export');
    await editor.getByLabel('Arguments').fill('-c "echo synced and exported"');

    await page.getByRole('button', { name: 'Save changes' }).click();

    await page.getByRole('heading', { name: 'Browser delta cycle' }).waitFor();
    const stage2 = page.locator('.stage').nth(1);
    await expect.poll(() => stage2.textContent()).toContain('Sync and export');
    expect(await stage2.textContent()).toContain('echo synced and exported');
    const saved = (await api().get(`/schedules/${before.id}`)).body;
    expect(saved.steps.map((step: { id: string }) => step.id)).toEqual(
      original.steps.map((step: { id: string }) => step.id),
    );
    expect(saved.steps[2]).toMatchObject({
      name: 'Sync and export',
      arguments: '-c "echo synced and exported"',
    });
    expect(saved.steps[0]).toEqual(original.steps[0]);
  });

  it('pauses, resumes and cancels a running execution', async () => {
    const created = await api().post('/schedules', {
      name: 'Browser long export',
      triggerType: 'Manual',
      steps: [
        { name: 'Long export', stepType: 'Executable', executablePath: '/bin/sleep', arguments: '120' },
      ],
    });
    expect(created.status).toBe(201);
    await page.goto(`${consoleUrl}#/schedules/${created.body.id}`);
    await page.getByRole('button', { name: 'Run now' }).click();
    await expect
      .poll(() => stepCard('Long export').locator('.status').textContent(), { timeout: 20_000 })
      .toBe('Processing');

    await page.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => executionStatus().textContent()).toBe('Paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => executionStatus().textContent()).toBe('InProgress');

    await page.getByRole('button', { name: 'Cancel' }).click();

    await expect.poll(() => executionStatus().textContent()).toBe('Cancelled');
    await expect
      .poll(() => stepCard('Long export').locator('.status').textContent(), { timeout: 20_000 })
      .toBe('Cancelled');
  });

  it('retries a failed execution and sees the retry complete', async () => {
    const marker = join(scratch, 'ran-once');
    const created = await api().post('/schedules', {
      name: 'Browser flaky sync',
      triggerType: 'Manual',
      steps: [
        {
          name: 'Flaky sync',
          stepType: 'Executable',
          executablePath: '/bin/sh',
          // Fails the first time (leaving the marker), succeeds the second.
          arguments: `-c "if [ -e ${marker} ]; then echo second run ok; else touch ${marker}; echo first run fails >&2; exit 1; fi"`,
        },
      ],
    });
    expect(created.status).toBe(201);
    await page.goto(`${consoleUrl}#/schedules/${created.body.id}`);
    await page.getByRole('button', { name: 'Run now' }).click();
    await expect.poll(() => executionStatus().textContent(), { timeout: 20_000 }).toBe('Failed');
    const failedUrl = page.url();

    await page.getByRole('button', { name: 'Retry' }).click();

    await expect.poll(() => page.url()).not.toBe(failedUrl);
    await expect.poll(() => executionStatus().textContent(), { timeout: 20_000 }).toBe('Completed');
    await expect
      .poll(() => stepCard('Flaky sync').locator('.output').textContent())
      .toContain('second run ok');
    const retryUrl = page.url();
    await page.getByRole('link', { name: 'the earlier execution' }).click();
    await expect.poll(() => page.url()).toBe(failedUrl);
    await page.getByRole('link', { name: 'the latest retry' }).click();
    await expect.poll(() => page.url()).toBe(retryUrl);
  });

  it('filters the executions list by status, schedule and time, by page numbers and with load more', async () => {
    const all = (await api().get('/schedule-executions?pageSize=100')).body;
    expect(all.totalCount).toBeGreaterThanOrEqual(4);
    await page.getByRole('link', { name: 'Executions' }).click();
    await page.getByRole('heading', { name: 'Executions' }).waitFor();
    await expect.poll(() => rows().count()).toBe(Math.min(all.totalCount, 20));

    await page.getByRole('checkbox', { name: 'Failed' }).check();
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => rows().count()).toBe(1);
    await expect.poll(() => rows().first().textContent()).toMatch(/Browser flaky sync.*Failed/);

    await page.getByRole('checkbox', { name: 'Failed' }).uncheck();
    await page.getByLabel('Schedule').selectOption({ label: 'Browser long export' });
    await page.getByRole('button', { name: 'Apply' }).click();
    // The previous filter's list has one row too: its row is looked at until the new list replaced it.
    await expect.poll(() => rows().count()).toBe(1);
    await expect.poll(() => rows().first().textContent()).toContain('Cancelled');

    await page.getByLabel('Queued from').fill('2099-01-01T00:00');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No executions match these filters.').waitFor();
    expect(new URL(page.url()).hash).toContain('from=2099-01-01T');

    await page.getByRole('link', { name: 'Clear' }).click();
    // The form is made anew for the cleared filters: what is typed before that is thrown away.
    await expect.poll(() => page.getByLabel('Queued from').inputValue()).toBe('');
    await page.getByLabel('Per page').fill('2');
    await page.getByRole('button', { name: 'Apply' }).click();
    const pages = Math.ceil(all.totalCount / 2);
    await page.getByText(`Page 1 of ${pages} (${all.totalCount} in all)`).waitFor();
    const firstPage = await rows().allTextContents();
    expect(firstPage).toHaveLength(2);
    await page.getByRole('button', { name: 'Next →' }).click();
    await page.getByText(`Page 2 of ${pages}`).waitFor();
    const secondPage = await rows().allTextContents();
    expect(secondPage).not.toEqual(firstPage);

    await page.getByRole('link', { name: 'load more (nextToken)' }).click();
    await expect.poll(() => rows().allTextContents()).toEqual(firstPage);
    for (let shown = 2; shown < all.totalCount; shown += 2) {
      await page.getByRole('button', { name: 'Load more' }).click();
      await expect.poll(() => rows().count()).toBe(Math.min(shown + 2, all.totalCount));
    }
    await page.getByText(`All ${all.totalCount} shown.`).waitFor();
    const links = await page
      .locator('tbody tr td:first-child a')
      .evaluateAll((anchors) => anchors.map((anchor) => anchor.getAttribute('href')));
    expect(links).toEqual(all.items.map((execution: { id: string }) => `#/executions/${execution.id}`));
  });

  it('says when the service cannot be reached, keeps what it showed, and recovers on retry', async () => {
    await page.getByRole('link', { name: 'Active' }).click();
    await page.getByText('Nothing is queued, running or paused.').waitFor();
    await page.route('**/api/v1/**', (route) => route.abort('connectionrefused'));
    // Unrouted whatever happens, so a failure here does not fail the tests after it too.
    try {
      // The active list refreshes every 3 s: that refresh fails.
      await expect
        .poll(() => page.getByRole('alert').textContent(), { timeout: 10_000 })
        .toContain('could not be reached');
      expect(await page.getByRole('alert').textContent()).toContain('Showing what was loaded at');
      expect(await page.getByText('Nothing is queued, running or paused.').isVisible()).toBe(true);
      await page.getByRole('link', { name: 'Workers' }).click();
      // The Active page's alert stays until the Workers page replaces it.
      await page.getByRole('heading', { name: 'Workers' }).waitFor();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('could not be reached');
      expect(await page.getByRole('alert').textContent()).not.toContain('Showing what was loaded');
      await page.screenshot({ path: join(ARTEFACTS, 'console-unreachable.png'), fullPage: true });
    } finally {
      await page.unroute('**/api/v1/**');
    }

    await page.getByRole('button', { name: 'Try again' }).click();

    await page.getByRole('row', { name: /example-worker/ }).waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
  });

  it('shows a new API key once, and sends a revoked one back to sign-in', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Name').fill('on-call laptop');

    await page.getByRole('button', { name: 'Create key' }).click();

    const shown = (await page.locator('.secret').textContent()) ?? '';
    expect(shown).toMatch(/^sek_/);
    await page.reload();
    await page.getByRole('row', { name: /on-call laptop/ }).waitFor();
    expect(await page.locator('.secret').count()).toBe(0);
    expect(await page.content()).not.toContain(shown);

    // Signed in with the new key in a tab of its own, which the revocation then throws out.
    const tab = await browser.newPage();
    await tab.goto(consoleUrl);
    await tab.getByLabel('API key').fill(shown);
    await tab.getByRole('button', { name: 'Sign in with API key' }).click();
    await tab.getByRole('heading', { name: 'Schedules' }).waitFor();
    await page.getByRole('button', { name: 'Revoke on-call laptop' }).click();
    await expect.poll(() => page.getByRole('row', { name: /on-call laptop/ }).count()).toBe(0);

    await tab.getByRole('link', { name: 'Workers' }).click();

    await expect.poll(() => tab.getByRole('alert').textContent()).toContain('sign in again');
    await tab.getByLabel('API key').waitFor();
    await tab.close();
  });

  it('shows the embedded worker online', async () => {
    await page.getByRole('link', { name: 'Workers' }).click();

    const row = page.getByRole('row', { name: /example-worker/ });
    await expect.poll(() => row.textContent()).toContain('Online');
    await expect.poll(() => row.textContent()).toContain('default');
  });
});
