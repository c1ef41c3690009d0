// The web console with containers and sandboxes, in real Chromium against a real daemon: the busybox container
// image pulled from the Images page (its operation's progress bar completes and the row appears), a busybox
// container launched from the create dialog (a bad hostname is refused at its field with the API's message; a
// command run in the Exec box reads the hostname that was set), the image refused deletion while the container
// uses it, and a WASI module uploaded from a file input as a sandbox (its output on the console, its exit code on
// the page).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Image, Instance, Operation } from '../../src/api/schema/index.js';
import { browserMissing, pageApi, shoot, signIn, startWebFixture, waitForScreen } from '../helpers/browser.js';
import { helloModule } from '../helpers/wasi-modules.js';

const CONTAINER = 'wwk-box';
const SANDBOX = 'wwk-hello';
const HOSTNAME = 'web-one';
const GREETING = 'hello from a web sandbox';

const skip = browserMissing() ?? (process.getuid?.() === 0 ? undefined : 'containers need root (mount, cgroups)');

test('web console: images, a container with exec, a sandbox from an uploaded module', {
  skip: skip ?? false,
  timeout: 10 * 60_000,
}, async (t) => {
  const { daemon, page, pageErrors } = await startWebFixture(t, 'swk-');
  const dir = mkdtempSync(join(tmpdir(), 'swk-wasm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await signIn(page, daemon);

  try {
    await t.test('the busybox container image is pulled from the Images page; its progress completes', async () => {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Images' }).click();
      await page.getByRole('heading', { name: 'Images' }).waitFor();
      // The VM image of the fixture is listed with its kernel.
      const debian = page.locator('tr[data-image="debian"]');
      await debian.waitFor();
      assert.equal(await debian.getAttribute('data-type'), 'vm');
      const shown = await pageApi<Image>(page, 'GET', '/1.0/images/debian');
      assert.ok(((await debian.textContent()) ?? '').includes(shown.body.kernelVersion), 'the kernel version is shown');
      assert.equal(await page.locator('tr[data-image="busybox-container"]').count(), 0);

      await page.getByRole('button', { name: 'Pull image' }).click();
      const dialog = page.getByRole('dialog', { name: 'Pull image' });
      await dialog.getByRole('radio', { name: 'Container image' }).check();
      await dialog.getByLabel('Source').selectOption('busybox');
      await dialog.getByRole('button', { name: 'Pull' }).click();
      await dialog.waitFor({ state: 'detached' });
      // The bar of this pull ends full, at 100%, once the operation succeeded.
      const done = page.locator('.op-progress[data-kind="image.pull"][data-status="success"]');
      await done.waitFor({ timeout: 120_000 });
      assert.equal(await done.getByRole('progressbar').getAttribute('aria-valuenow'), '100');
      assert.match((await done.textContent()) ?? '', /100%/);
      const row = page.locator('tr[data-image="busybox-container"]');
      await row.waitFor();
      assert.equal(await row.getAttribute('data-type'), 'container');
      assert.match((await row.textContent()) ?? '', /Container/);
      // Its size is its root file system's (the host's busybox and its links): shown, not zero.
      const pulled = await pageApi<Image>(page, 'GET', '/1.0/images/busybox-container');
      assert.equal(pulled.body.type, 'container');
      assert.ok(pulled.body.sizeBytes > 100_000, `busybox-container is ${pulled.body.sizeBytes} bytes`);
      assert.match((await row.locator('td[data-label="Size"]').textContent()) ?? '', /^[\d.]+ (KiB|MiB)$/);
      const ops = await pageApi<Operation[]>(page, 'GET', '/1.0/operations');
      assert.equal(ops.body.find((o) => o.kind === 'image.pull')?.status, 'success');
      await shoot(page, 'web-images');
      // A few seconds after its success the finished pull's bar goes away.
      await done.waitFor({ state: 'detached', timeout: 20_000 });
    });

    await t.test('the create dialog: Escape closes it; Container mode shows only container fields', async () => {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Instances' }).click();
      await page.getByRole('button', { name: 'New instance' }).click();
      const dialog = page.getByRole('dialog', { name: 'New instance' });
      await dialog.waitFor();
      await page.keyboard.type('dropped');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      assert.equal((await pageApi<Instance[]>(page, 'GET', '/1.0/instances')).body.length, 0, 'Escape made nothing');

      await page.getByRole('button', { name: 'New instance' }).click();
      await dialog.getByRole('radio', { name: 'Container' }).check();
      await page.waitForFunction(
        () => document.querySelector<HTMLSelectElement>('#f-image')?.value === 'busybox-container',
      );
      assert.equal(await dialog.getByLabel('Disk size').count(), 0, 'no disk for a container');
      assert.equal(await dialog.getByLabel('vCPUs').count(), 0, 'no vCPUs for a container');
      assert.equal(await dialog.getByLabel('Module').count(), 0, 'no module for a container');
      await dialog.getByLabel('Name', { exact: true }).fill(CONTAINER);
      await dialog.getByLabel('Hostname').fill('not_a_host!');
      await dialog.getByLabel('Pids limit').fill('64');
      await dialog.getByRole('button', { name: 'Create' }).click();
      const error = dialog.locator('#f-hostname-err');
      await error.waitFor();
      assert.match((await error.textContent()) ?? '', /'not_a_host!' is not a host name label/);
      assert.equal(await dialog.getByLabel('Hostname').getAttribute('aria-invalid'), 'true');
      await shoot(page, 'web-create-container');
    });

    await t.test('a busybox container launched from the dialog; Exec reads the hostname it was given', async () => {
      const dialog = page.getByRole('dialog', { name: 'New instance' });
      await dialog.getByLabel('Hostname').fill(HOSTNAME);
      await dialog.getByRole('button', { name: 'Create' }).click();
      await dialog.waitFor({ state: 'detached' });
      await page.waitForURL(new RegExp(`#/instances/${CONTAINER}$`));
      await page.locator('.badge[data-status="running"]').waitFor({ timeout: 60_000 });
      const settings = page.locator('[data-settings="container"]');
      await settings.waitFor();
      assert.equal(await settings.locator('[data-hostname]').getAttribute('data-hostname'), HOSTNAME);
      assert.match((await settings.textContent()) ?? '', /Pids limit64/);
      // A sandbox's actions are not offered to a container, and the other way round.
      await page.getByRole('toolbar', { name: 'Instance actions' }).getByRole('button', { name: 'Pause' }).waitFor();

      // The hostname set at launch, as the container sees it in /etc/hostname (Strata writes it into its layer).
      await page.getByLabel('Command line').fill('cat /etc/hostname');
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      const result = page.locator('.exec-result');
      await result.waitFor({ timeout: 30_000 });
      assert.equal(await result.getAttribute('data-exit-code'), '0');
      assert.equal(await result.locator('[data-stream="stdout"]').textContent(), `${HOSTNAME}\n`);
      // A failing command shows its exit code and its error output.
      await page.getByLabel('Command line').fill('ls /no-such-dir');
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      await page.locator('.exec-result:not([data-exit-code="0"])').waitFor({ timeout: 30_000 });
      assert.match((await result.locator('[data-stream="stderr"]').textContent()) ?? '', /no-such-dir/);
      // Its usage arrives with the metrics events.
      await page.locator('[data-chart="cpu"] svg[data-points]:not([data-points="0"]):not([data-points="1"])').waitFor({
        timeout: 30_000,
      });
      await shoot(page, 'web-container-page', '.exec-card');
    });

    await t.test('an image in use is not deleted: the refusal is shown at its row', async () => {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Images' }).click();
      await page.getByRole('button', { name: 'Delete busybox-container' }).click();
      const confirm = page.getByRole('dialog', { name: 'Delete image busybox-container?' });
      await confirm.getByRole('button', { name: 'Delete' }).click();
      await page
        .locator('tr.row-error')
        .getByRole('alert')
        .filter({ hasText: /busybox-container was not deleted: .*used by an instance/ })
        .waitFor();
      assert.equal(await page.locator('tr[data-image="busybox-container"]').count(), 1);
    });

    await t.test('a sandbox from an uploaded WASI module: its output on the console, its exit code', async () => {
      const file = join(dir, 'hello.wasm');
      writeFileSync(file, helloModule(`${GREETING}\n`, 3));
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Instances' }).click();
      await page.getByRole('button', { name: 'New instance' }).click();
      const dialog = page.getByRole('dialog', { name: 'New instance' });
      await dialog.getByRole('radio', { name: 'Sandbox' }).check();
      assert.equal(await dialog.getByLabel('Hostname').count(), 0, 'no hostname for a sandbox');
      assert.equal(await dialog.getByLabel('Network').count(), 0, 'no network for a sandbox');
      await dialog.getByLabel('Module').setInputFiles(file);
      await dialog.getByText(/hello\.wasm, \d+ bytes/).waitFor();
      await dialog.getByLabel('Name', { exact: true }).fill(SANDBOX);
      await dialog.getByLabel('Arguments').fill("one 'two words'");
      await dialog.getByLabel('Environment').fill('GREETING=hi');
      await dialog.getByLabel('CPU time limit (ms)').fill('2000');
      await dialog.getByRole('button', { name: 'Create' }).click();
      await dialog.waitFor({ state: 'detached' });
      await page.waitForURL(new RegExp(`#/instances/${SANDBOX}$`));
      const exit = page.locator('.exit-note[data-exit="3"]');
      await exit.waitFor({ timeout: 60_000 });
      assert.match((await exit.textContent()) ?? '', /Exited with code 3: the module exited/);
      await waitForScreen(page, new RegExp(GREETING), 30_000);
      const settings = page.locator('[data-settings="sandbox"]');
      assert.match((await settings.textContent()) ?? '', /one 'two words'/);
      assert.match((await settings.textContent()) ?? '', /2000 ms a run/);
      assert.match((await settings.textContent()) ?? '', /GREETING=hi/);
      const toolbar = page.getByRole('toolbar', { name: 'Instance actions' });
      assert.equal(await toolbar.getByRole('button', { name: 'Pause' }).count(), 0, 'a sandbox cannot be paused');
      assert.equal(await page.locator('.exec-card').count(), 0, 'no exec box for a sandbox');
      await shoot(page, 'web-sandbox-page');
      const api = await pageApi<Instance>(page, 'GET', `/1.0/instances/${SANDBOX}`);
      assert.equal(api.body.exitCode, 3);
      assert.deepEqual(api.body.sandbox?.args, ['one', 'two words']);
    });

    await t.test('the container is deleted from its page', async () => {
      await page.goto(`${daemon.url}/#/instances/${CONTAINER}`);
      await page.getByRole('toolbar', { name: 'Instance actions' }).getByRole('button', { name: 'Delete' }).click();
      const confirm = page.getByRole('dialog', { name: `Delete ${CONTAINER}?` });
      assert.match((await confirm.textContent()) ?? '', /Its layer/);
      await confirm.getByRole('button', { name: 'Stop and delete' }).click();
      await page.getByText(`Instance ${CONTAINER} was deleted.`).waitFor({ timeout: 60_000 });
      assert.deepEqual(pageErrors, [], 'no script errors on any page');
    });
  } finally {
    // Whatever failed above: no container is left running on this host (cgroups and mounts are host-global).
    const left = await pageApi<Instance[]>(page, 'GET', '/1.0/instances').catch(() => undefined);
    for (const i of left?.body ?? []) {
      const op = await pageApi<Operation>(page, 'DELETE', `/1.0/instances/${i.name}?force=true`).catch(() => undefined);
      if (op?.body?.id)
        await pageApi(page, 'GET', `/1.0/operations/${op.body.id}/wait?timeout=30`).catch(() => undefined);
    }
  }
});
