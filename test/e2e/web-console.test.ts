import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserMissing, shoot, startWebFixture, waitForScreen } from '../helpers/browser.js';

test('web console: sign in, create an instance, use its console, stop it live, delete it', {
  skip: browserMissing(),
  timeout: 15 * 60_000,
}, async (t) => {
  const { daemon, context, page, pageErrors } = await startWebFixture(t, 'sw-');

  await t.test('a wrong token is refused on the sign-in page, in plain words', async () => {
    await page.goto(daemon.url);
    await page.getByLabel('Access token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'That token is not right' }).waitFor();
    assert.deepEqual(await context.cookies(), [], 'no session after a wrong token');
    await shoot(page, 'web-sign-in-refused');
  });

  await t.test('the right token signs in; the session is an HttpOnly cookie, not the URL', async () => {
    await page.getByLabel('Access token').fill(daemon.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const [cookie] = await context.cookies();
    assert.equal(cookie?.name, 'strata_session');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.ok(!page.url().includes(daemon.token), 'the token is not in the URL');
    assert.equal(await page.evaluate(() => document.cookie), '', 'page scripts cannot read the session');
    await page.locator('.conn-live').waitFor();
  });

  await t.test('the create dialog opens and closes with the keyboard', async () => {
    await page.getByRole('button', { name: 'New instance' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'New instance' });
    await dialog.waitFor();
    await page.keyboard.type('typed-name');
    assert.equal(await dialog.getByLabel('Name').inputValue(), 'typed-name', 'the name field has the focus');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  await t.test("the create dialog shows the API's validation message at its field", async () => {
    await page.getByRole('button', { name: 'New instance' }).click();
    const dialog = page.getByRole('dialog', { name: 'New instance' });
    await dialog.getByLabel('Name').fill('web1');
    await dialog.getByLabel('Memory').fill('lots');
    await dialog.getByRole('button', { name: 'Create' }).click();
    const error = dialog.locator('#f-memory-err');
    await error.waitFor();
    assert.match((await error.textContent()) ?? '', /lots/);
    assert.equal(await dialog.getByLabel('Memory').getAttribute('aria-invalid'), 'true');
    await shoot(page, 'web-create-dialog');
  });

  await t.test('creating an instance from the default image boots it and opens its console', async () => {
    const dialog = page.getByRole('dialog', { name: 'New instance' });
    assert.equal(await dialog.getByLabel('Image').inputValue(), 'debian');
    await dialog.getByLabel('Memory').fill('256M');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/#\/instances\/web1$/);
    await page.locator('.page-head [data-status="running"]').waitFor({ timeout: 120_000 });
    await page.locator('.console-connected').waitFor({ timeout: 60_000 });
    await waitForScreen(page, /:~#$/m, 300_000);
  });

  await t.test('typing into the console reaches the guest: uname -m prints riscv64', async () => {
    await page.locator('.terminal-box').click();
    await page.keyboard.type('uname -m');
    await page.keyboard.press('Enter');
    await waitForScreen(page, /uname -m\s*\nriscv64\n/, 60_000);
    await page.keyboard.type('clear');
    await page.keyboard.press('Enter');
    await page.keyboard.type('uname -a; free -m');
    await page.keyboard.press('Enter');
    await waitForScreen(page, /Mem:/, 30_000);
    await page.locator('.sparkline polyline').first().waitFor({ timeout: 30_000 });
    await shoot(page, 'web-instance-console');
  });

  await t.test('the overview and the list show the instance, at desktop and phone widths', async () => {
    await page.goto(`${daemon.url}/#/`);
    await page.locator('[data-count="running"]', { hasText: '1' }).waitFor();
    await page.getByRole('meter', { name: 'host memory used' }).waitFor();
    await shoot(page, 'web-overview');
    await page.goto(`${daemon.url}/#/instances`);
    await page.locator('tr[data-instance="web1"] [data-status="running"]').waitFor();
    await shoot(page, 'web-instances');
  });

  await t.test('pause, resume and stop: each new state arrives over the event stream, without a reload', async () => {
    await page.goto(`${daemon.url}/#/instances/web1`);
    await page.evaluate(() => {
      (window as { notReloaded?: boolean }).notReloaded = true;
    });
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await page.locator('.page-head [data-status="paused"]').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    await page.locator('.page-head [data-status="running"]').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await page.locator('.page-head [data-status="stopped"]').waitFor({ timeout: 180_000 });
    assert.equal(await page.evaluate(() => (window as { notReloaded?: boolean }).notReloaded), true);
    await page.getByText('The instance is not running: start it to use its console').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Start', exact: true }).isEnabled(), true);
    await page.goto(`${daemon.url}/#/activity`);
    await page.getByText('stop done').first().waitFor();
    await shoot(page, 'web-activity');
    await page.goto(`${daemon.url}/#/instances/web1`);
  });

  await t.test('delete asks first; Cancel keeps the instance, Delete removes it', async () => {
    await page.getByRole('button', { name: 'Delete' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete web1?' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete web1?' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Instance web1 was deleted.').waitFor({ timeout: 60_000 });
    await page.goto(`${daemon.url}/#/instances`);
    await page.getByText('No instances yet.').waitFor();
  });

  await t.test('signing out ends the session', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Access token').waitFor();
    await page.reload();
    await page.getByLabel('Access token').waitFor();
    assert.deepEqual(pageErrors, [], 'no script errors on any page');
  });
});
