import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { test } from 'node:test';
import type { StorageVolume } from '../../src/api/schema/index.js';
import { PoolRegistry } from '../../src/services/storage/pools/pool-registry.js';
import { browserMissing, pageApi, shoot, signIn, startWebFixture } from '../helpers/browser.js';

/** Bytes written into the volume that is copied: enough for the copy to last well over one progress interval. */
const COPY_BYTES = 384 * 1024 * 1024;

test('web console: volume snapshots, a copy with its progress bar, dialogs and the keyboard', {
  skip: browserMissing(),
  timeout: 10 * 60_000,
}, async (t) => {
  const { daemon, home, page, pageErrors } = await startWebFixture(t, 'sws-');
  await signIn(page, daemon);
  const pool = page.locator('section[data-pool="default"]');

  await t.test('a volume made with the keyboard alone; Escape closes the dialog without a change', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Storage' }).click();
    await pool.waitFor();
    await pool.getByRole('button', { name: 'New volume' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'New volume' });
    await dialog.waitFor();
    await page.keyboard.type('dropped');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await pool.locator('tr[data-volume="dropped"]').count(), 0, 'Escape made nothing');
    await pool.getByRole('button', { name: 'New volume' }).focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.type('snapvol');
    // Tab to the size, then through the format to Create; focus never leaves the dialog.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('64M');
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab');
      assert.equal(
        await page.evaluate(() => document.activeElement?.closest('dialog') !== null),
        true,
        'the focus stays in the dialog',
      );
    }
    await dialog.getByRole('button', { name: 'Create' }).focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    await pool.locator('tr[data-volume="snapvol"]').waitFor();
  });

  await t.test('a snapshot is taken, reverted to (refused in plain words while in use), and deleted', async () => {
    const row = pool.locator('tr[data-volume="snapvol"]');
    await row.getByRole('button', { name: 'Snapshots of snapvol' }).click();
    const panel = pool.locator('[data-snapshots="snapvol"]');
    await panel.getByText('No snapshots yet.').waitFor();
    await panel.getByRole('button', { name: 'Take snapshot' }).click();
    await panel.getByText('Give the snapshot a name.').waitFor();
    await panel.getByLabel('New snapshot').fill('-bad');
    await panel.getByRole('button', { name: 'Take snapshot' }).click();
    await panel.getByRole('alert').filter({ hasText: /-bad/ }).waitFor();
    await panel.getByLabel('New snapshot').fill('before');
    await panel.getByRole('button', { name: 'Take snapshot' }).click();
    await panel.getByText('Snapshot before was taken.').waitFor();
    await panel.locator('li[data-snapshot="before"]').waitFor();
    await row.getByRole('button', { name: 'Snapshots of snapvol (1)' }).waitFor();
    const api = await pageApi<{ name: string }[]>(page, 'GET', '/1.0/storage-pools/default/volumes/snapvol/snapshots');
    assert.deepEqual(
      api.body.map((s) => s.name),
      ['before'],
    );

    // Escape on the confirmation keeps everything as it was.
    await panel.getByRole('button', { name: 'Revert snapvol to before' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revert snapvol to before?' });
    await confirm.waitFor();
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'detached' });

    // A VM-like holder: this process opens the volume read-only, as a VMM would.
    const held = await (await new PoolRegistry(home).open('default')).attachVolume('snapvol', {
      readOnly: true,
      pid: process.pid,
    });
    try {
      await panel.getByRole('button', { name: 'Revert snapvol to before' }).click();
      await confirm.getByRole('button', { name: 'Revert' }).click();
      const refusal = panel.getByRole('alert').filter({ hasText: /snapvol was not reverted: .*in use/ });
      await refusal.waitFor();
      await shoot(page, 'web-storage-snapshots', 'section[data-pool="default"]');
    } finally {
      await held.release();
    }
    await panel.getByRole('button', { name: 'Revert snapvol to before' }).click();
    await confirm.getByRole('button', { name: 'Revert' }).click();
    await panel.getByText('snapvol was reverted to snapshot before.').waitFor();

    await panel.getByRole('button', { name: 'Delete snapshot before' }).click();
    await page.getByRole('dialog', { name: 'Delete snapshot before?' }).getByRole('button', { name: 'Delete' }).click();
    await panel.getByText('Snapshot before was deleted.').waitFor();
    await panel.getByText('No snapshots yet.').waitFor();
    await row.getByRole('button', { name: 'Snapshots of snapvol', exact: true }).waitFor();
  });

  await t.test('copying a volume shows the operation with a progress bar until it completes', async () => {
    const made = await pageApi<StorageVolume>(page, 'POST', '/1.0/storage-pools/default/volumes', {
      name: 'bigvol',
      size: '512M',
      format: 'raw',
    });
    assert.equal(made.status, 201);
    // Real data for the copy to read (zeros would be skipped as holes).
    const f = await open(made.body.path, 'r+');
    const chunk = Buffer.alloc(16 * 1024 * 1024, 0xa5);
    for (let at = 0; at < COPY_BYTES; at += chunk.length) await f.write(chunk, 0, chunk.length, at);
    await f.close();
    await page.reload();
    await pool.locator('tr[data-volume="bigvol"]').waitFor();
    await pool.getByRole('button', { name: 'Copy bigvol' }).click();
    const dialog = page.getByRole('dialog', { name: 'Copy volume' });
    await dialog.getByLabel('New name').fill('bigcopy');
    await dialog.getByLabel('Format').selectOption('qcow2');
    await dialog.getByRole('button', { name: 'Copy' }).click();
    await dialog.waitFor({ state: 'detached' });
    const bar = pool.locator('.op-progress[data-kind="volume.copy"] [role="progressbar"][aria-valuenow]');
    await bar.waitFor({ timeout: 30_000 });
    const seen: number[] = [];
    // Progress arrives over the event stream while the copy runs; the bar goes once the copy is done.
    for (;;) {
      const v = await bar.getAttribute('aria-valuenow', { timeout: 1000 }).catch(() => null);
      if (v === null) break;
      seen.push(Number(v));
      await page.waitForTimeout(100);
    }
    assert.ok(seen.length >= 1, 'the progress bar was shown');
    assert.ok(
      seen.every((v, i) => i === 0 || v >= seen[i - 1]!),
      `progress only grows: ${seen.join(' ')}`,
    );
    await pool.locator('tr[data-volume="bigcopy"]').waitFor({ timeout: 60_000 });
    assert.match((await pool.locator('tr[data-volume="bigcopy"]').textContent()) ?? '', /qcow2/);
    const ops = await pageApi<{ kind: string; status: string }[]>(page, 'GET', '/1.0/operations');
    assert.equal(ops.body.find((o) => o.kind === 'volume.copy')?.status, 'success');
    await page.goto(`${daemon.url}/#/activity`);
    await page.getByText('volume copy done').first().waitFor();
    assert.deepEqual(pageErrors, [], 'no script errors on any page');
  });
});
