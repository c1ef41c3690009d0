import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import type { NetworkFlows, Operation } from '../../src/api/schema/index.js';
import { browserMissing, pageApi, shoot, signIn, startWebFixture, waitForScreen } from '../helpers/browser.js';

const hasOfctl = spawnSync('ovs-ofctl', ['--version']).status === 0;

/** How many points a chart (an svg with data-points) draws. */
async function points(page: Page, selector: string): Promise<number> {
  return Number(await page.locator(selector).first().getAttribute('data-points'));
}

test('web console: live addresses, usage charts, disks and NICs, and a live flow table', {
  skip: browserMissing(),
  timeout: 15 * 60_000,
}, async (t) => {
  const { daemon, page, pageErrors } = await startWebFixture(t, 'swl-');
  await signIn(page, daemon);
  const net = await pageApi(page, 'POST', '/1.0/networks', {
    name: 'wlnet',
    subnet: '10.0.77.0/24',
    dhcp: true,
  });
  assert.equal(net.status, 201);
  const op = await pageApi<Operation>(page, 'POST', '/1.0/instances', {
    name: 'wl1',
    image: 'debian',
    memory: '256M',
    network: 'wlnet',
    start: true,
  });
  assert.equal(op.status, 202);

  await t.test("the list shows the VM's type, its leased address and live CPU and memory sparklines", async () => {
    await page.goto(`${daemon.url}/#/instances`);
    const row = page.locator('tr[data-instance="wl1"]');
    await row.locator('[data-type="vm"]').waitFor();
    // The guest asks for its address by DHCP during boot; the list learns it from the metrics samples.
    await row.locator('td[data-ipv4^="10.0.77."]').waitFor({ timeout: 300_000 });
    const ip = (await row.locator('td[data-ipv4]').getAttribute('data-ipv4')) ?? '';
    const state = await pageApi<{ nics: { ipv4: string | null }[] }>(page, 'GET', '/1.0/instances/wl1/state');
    assert.equal(state.body.nics[0]?.ipv4, ip, 'the list shows the address of the state route');
    for (const what of ['cpu', 'memory']) {
      const cell = `tr[data-instance="wl1"] td[data-live="${what}"] svg`;
      for (let i = 0; i < 60 && (await points(page, cell)) < 3; i++) await page.waitForTimeout(500);
      assert.ok((await points(page, cell)) >= 3, `the ${what} sparkline has points`);
    }
    assert.match((await row.locator('td[data-live="memory"]').textContent()) ?? '', /MiB/);
    await shoot(page, 'web-instances-live');
  });

  await t.test('the instance page shows disk and NIC tables and disk and network charts with data', async () => {
    await page.locator('tr[data-instance="wl1"] a', { hasText: 'wl1' }).click();
    await page.locator('.console-connected').waitFor({ timeout: 60_000 });
    await waitForScreen(page, /:~#\s*$/m, 300_000);
    await page.locator('.terminal-box').click();
    await page.keyboard.type('dd if=/dev/vda of=/dev/null bs=1M count=32; ping -c 3 10.0.77.1');
    await page.keyboard.press('Enter');
    await waitForScreen(page, /3 packets transmitted/, 60_000);
    const disk = page.locator('table[data-table="disks"] tr[data-disk="root"]');
    await disk.waitFor();
    assert.match((await disk.textContent()) ?? '', /raw/);
    for (let i = 0; i < 40 && Number(await disk.locator('[data-read]').getAttribute('data-read')) < 32 << 20; i++) {
      await page.waitForTimeout(500);
    }
    assert.ok(Number(await disk.locator('[data-read]').getAttribute('data-read')) >= 32 << 20, 'the dd reads count');
    const nic = page.locator('table[data-table="nics"] tr[data-nic="eth0"]');
    assert.match((await nic.textContent()) ?? '', /wlnet.*10\.0\.77\.\d+.*02(:[0-9a-f]{2}){5}/);
    // The charts: a rate point per sample; the dd and the pings make them rise above zero.
    const maxOf = (chart: string) =>
      page
        .locator(`[data-chart="${chart}"] polyline`)
        .evaluateAll((ls) =>
          Math.max(
            0,
            ...ls.flatMap((l) => (l.getAttribute('points') ?? '').split(' ').map((p) => 56 - Number(p.split(',')[1]))),
          ),
        );
    for (const chart of ['cpu', 'memory', 'disk', 'network']) {
      assert.ok((await points(page, `[data-chart="${chart}"] svg`)) >= 2, `the ${chart} chart has points`);
    }
    assert.ok((await maxOf('disk')) > 4, 'the disk chart rose');
    assert.ok((await maxOf('network')) > 2, 'the network chart rose');
    await shoot(page, 'web-instance-live', '.usage');
    await shoot(page, 'web-instance-devices', '.device-grid');
  });

  await t.test(
    "the network page lists the switch's flows; a flow added with ovs-ofctl appears live",
    {
      skip: !hasOfctl && 'no ovs-ofctl',
    },
    async () => {
      await page.goto(`${daemon.url}/#/networks`);
      await page.getByRole('link', { name: 'Flow table of wlnet' }).click();
      await page.getByRole('heading', { name: 'Flow table' }).waitFor();
      const table = page.locator('table[data-table="flows"]');
      await table.waitFor();
      const first = await table.locator('tbody tr').count();
      assert.ok(first >= 1, 'the table-miss flow at least');
      assert.match((await table.textContent()) ?? '', /NORMAL/);
      const flows = await pageApi<NetworkFlows>(page, 'GET', '/1.0/networks/wlnet/flows');
      assert.equal(flows.body.openflow?.mode, 'ptcp');
      await page.evaluate(() => {
        (window as { notReloaded?: boolean }).notReloaded = true;
      });
      const target = `tcp:127.0.0.1:${flows.body.openflow?.port}`;
      const r = spawnSync(
        'ovs-ofctl',
        ['-O', 'OpenFlow13', 'add-flow', target, 'cookie=0x5eb,priority=321,udp,tp_dst=9999,actions=drop'],
        { encoding: 'utf8', timeout: 20_000 },
      );
      assert.equal(r.status, 0, `ovs-ofctl add-flow: ${r.stderr}`);
      const added = table.locator('tr[data-flow-priority="321"]');
      await added.waitFor({ timeout: 15_000 });
      assert.match((await added.textContent()) ?? '', /udp.*9999/);
      assert.match((await added.textContent()) ?? '', /0x5eb/);
      assert.equal(await page.evaluate(() => (window as { notReloaded?: boolean }).notReloaded), true);
      await shoot(page, 'web-network-flows', '.flows-card');
    },
  );

  await t.test('stopping the VM clears its address; its disk is exported from the page', async () => {
    await page.goto(`${daemon.url}/#/instances/wl1`);
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await page.locator('.page-head [data-status="stopped"]').waitFor({ timeout: 180_000 });
    await page.locator('table[data-table="nics"] tr[data-nic="eth0"]', { hasText: 'no lease' }).waitFor();
    await page.getByRole('button', { name: 'Export disk' }).click();
    // The export reads the whole 4 GiB disk: its progress arrives over the event stream as a growing bar.
    const bar = page.locator('.op-progress[data-kind="instance.export"] [role="progressbar"][aria-valuenow]');
    await bar.waitFor({ timeout: 30_000 });
    assert.match((await page.locator('.op-progress[data-kind="instance.export"]').textContent()) ?? '', /\d+%/);
    await shoot(page, 'web-instance-export');
    await page.getByText(/The disk was exported to .*wl1-.*\.raw/).waitFor({ timeout: 120_000 });
    await page.goto(`${daemon.url}/#/instances`);
    assert.equal(await page.locator('tr[data-instance="wl1"] td[data-ipv4]').getAttribute('data-ipv4'), '');
    assert.deepEqual(pageErrors, [], 'no script errors on any page');
  });
});
