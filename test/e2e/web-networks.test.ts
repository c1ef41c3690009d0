import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserMissing, pageApi, shoot, startWebFixture } from '../helpers/browser.js';

test('web console: networks with their topology graph, and storage volumes', {
  skip: browserMissing(),
  timeout: 10 * 60_000,
}, async (t) => {
  const { daemon, page, pageErrors } = await startWebFixture(t, 'swn-');

  await page.goto(daemon.url);
  await page.getByLabel('Access token').fill(daemon.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();

  await t.test('the Networks page is in the navigation; a bad subnet is shown at its field', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Networks' }).click();
    await page.getByRole('heading', { name: 'Networks' }).waitFor();
    await page.getByText('No networks yet.').waitFor();
    await page.getByRole('button', { name: 'New network' }).click();
    const dialog = page.getByRole('dialog', { name: 'New network' });
    await dialog.getByLabel('Name').fill('lan0');
    await dialog.getByLabel('Subnet').fill('10.0.300.0/24');
    await dialog.getByRole('button', { name: 'Create' }).click();
    const error = dialog.locator('#net-subnet-err');
    await error.waitFor();
    assert.match((await error.textContent()) ?? '', /10\.0\.300\.0/);
    assert.equal(await dialog.getByLabel('Subnet').getAttribute('aria-invalid'), 'true');
  });

  await t.test('a network created in the UI appears in the list and in the topology graph', async () => {
    const dialog = page.getByRole('dialog', { name: 'New network' });
    await dialog.getByLabel('Subnet').fill('10.0.5.0/24');
    await dialog.getByLabel('VLAN').fill('10');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByText('Network lan0 was created.').waitFor();
    const row = page.locator('tr[data-network="lan0"]');
    assert.match((await row.textContent()) ?? '', /10\.0\.5\.0\/24/);
    await page.locator('svg [data-node="switch:lan0"]').waitFor();
    await page.locator('svg [data-node="router:lan0"]').waitFor();
    assert.equal(await page.locator('svg [data-node="switch:lan0"] [data-vlan="10"]').count(), 1, 'its VLAN label');
  });

  await t.test('the create-instance dialog offers the network; the instance appears under its switch', async () => {
    // More of a network for the graph: one sharing lan0's router, and a plain switch on another VLAN.
    assert.equal(
      (await pageApi(page, 'POST', '/1.0/networks', { name: 'dmz', subnet: '10.0.6.0/24', router: 'lan0', dhcp: true }))
        .status,
      201,
    );
    assert.equal((await pageApi(page, 'POST', '/1.0/networks', { name: 'lab', vlan: 20 })).status, 201);
    await page.goto(`${daemon!.url}/#/instances`);
    await page.getByRole('button', { name: 'New instance' }).click();
    const dialog = page.getByRole('dialog', { name: 'New instance' });
    await dialog.getByLabel('Name').fill('web-a');
    await dialog.getByLabel('Memory').fill('256M');
    await dialog.getByLabel('Network').selectOption('lan0');
    await dialog.getByLabel('Start it once created').uncheck();
    await dialog.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/#\/instances\/web-a$/);
    for (const [name, network] of [
      ['web-b', 'lan0'],
      ['db-1', 'dmz'],
    ]) {
      const body = { name, image: 'debian', memory: '256M', network, start: false };
      assert.equal((await pageApi(page, 'POST', '/1.0/instances', body)).status, 202);
    }
    await page.goto(`${daemon!.url}/#/networks`);
    await page.locator('svg [data-node="instance:web-a"]').waitFor({ timeout: 60_000 });
    // Starting an instance starts its network's switch: both turn green as the event stream reports it.
    assert.equal((await pageApi(page, 'PUT', '/1.0/instances/web-a/state', { action: 'start' })).status, 202);
    await page.locator('svg [data-node="instance:web-a"] .topo-running').waitFor({ timeout: 180_000 });
    await page.locator('svg .topo-switch-on[data-node="switch:lan0"]').waitFor({ timeout: 60_000 });
    await page.locator('svg [data-node="instance:web-b"]').waitFor({ timeout: 60_000 });
    await page.locator('svg [data-node="instance:db-1"]').waitFor({ timeout: 60_000 });
    await page.locator('svg [data-node="switch:lab"] [data-vlan="20"]').waitFor();
    assert.equal(await page.locator('svg [data-node^="router:"]').count(), 1, 'lan0 and dmz share one router');
    assert.match((await page.locator('tr[data-network="lan0"]').textContent()) ?? '', /web-a, web-b/);
    await shoot(page, 'web-topology', '.topology-card');
  });

  await t.test('deleting a network in use is refused in plain words at its row', async () => {
    await page.getByRole('button', { name: 'Delete lan0' }).click();
    await page.getByRole('dialog', { name: 'Delete network lan0?' }).getByRole('button', { name: 'Delete' }).click();
    await page
      .locator('.row-error')
      .getByText(/lan0 was not deleted: .*used by instance/)
      .waitFor();
    await page.getByRole('button', { name: 'Delete lab' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete network lab?' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Delete lab' }).click();
    await page.getByRole('dialog', { name: 'Delete network lab?' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Network lab was deleted.').waitFor();
    await page.locator('svg [data-node="switch:lab"]').waitFor({ state: 'detached' });
  });

  await t.test('storage: create a volume (a bad size is shown at its field), then delete it', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Storage' }).click();
    const pool = page.locator('section[data-pool="default"]');
    await pool.waitFor();
    await pool.getByRole('button', { name: 'New volume' }).click();
    const dialog = page.getByRole('dialog', { name: 'New volume' });
    await dialog.getByLabel('Name').fill('data1');
    await dialog.getByLabel('Size').fill('lots');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dialog.locator('#vol-size-err').waitFor();
    assert.match((await dialog.locator('#vol-size-err').textContent()) ?? '', /lots/);
    await dialog.getByLabel('Size').fill('64M');
    await dialog.getByLabel('Format').selectOption('raw');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dialog.waitFor({ state: 'detached' });
    const row = pool.locator('tr[data-volume="data1"]');
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /raw/);
    assert.match((await row.textContent()) ?? '', /64(\.0)? MiB|64 ?M/);
    await shoot(page, 'web-storage');
    await row.getByRole('button', { name: 'Delete data1' }).click();
    await page.getByRole('dialog', { name: 'Delete volume data1?' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByText('Volume data1 was deleted.').waitFor();
    await row.waitFor({ state: 'detached' });
    assert.deepEqual(pageErrors, [], 'no script errors on any page');
  });
});
