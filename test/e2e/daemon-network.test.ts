import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { tempHome } from '../helpers/daemon-harness.js';
import {
  ConsoleViewer,
  type DaemonProcess,
  killVmms,
  linkDebianImage,
  startDaemonProcess,
  strataOkOn,
  strataOn,
} from '../helpers/daemon-process.js';

/** The value of a per-instance metric in the daemon's `/metrics`. */
async function metric(d: DaemonProcess, name: string, instance: string): Promise<number> {
  const res = await fetch(`${d.url}/metrics`, { headers: { authorization: `Bearer ${d.token}` } });
  assert.equal(res.status, 200);
  const text = await res.text();
  const m = new RegExp(`^${name}\\{[^}]*instance="${instance}"[^}]*\\} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `${name} of ${instance} in /metrics`);
  return Number(m[1]);
}

// Three Debian guests launched through the daemon on one network, two on Strata's engine and one on QEMU: each
// NIC joins the network's switch (the network starts on demand), the guests get DHCP leases and ping each other, and /metrics
// counts their NIC traffic.
test('daemon: builtin and QEMU VMs on one network get DHCP leases, ping each other, and /metrics counts NIC traffic', {
  timeout: 15 * 60_000,
}, async (t) => {
  const home = tempHome('sn-');
  await linkDebianImage(home);
  const d = await startDaemonProcess(home);
  const viewers: ConsoleViewer[] = [];
  t.after(async () => {
    for (const v of viewers) v.close();
    await d.stop().catch(() => undefined);
    killVmms(home);
    // The on-demand network server ends by itself once its NICs are gone.
    await new Promise((r) => setTimeout(r, 200));
    rmSync(home, { recursive: true, force: true });
  });

  await strataOkOn(d, ['network', 'create', 'lan', '--subnet', '10.0.31.0/24', '--dhcp']);
  const unknown = await strataOn(d, ['launch', 'debian', 'nope', '--network', 'missing', '-q']);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.out, /network/);

  await strataOkOn(d, ['launch', 'debian', 'vm1', '--network', 'lan', '--memory', '256M', '-q']);
  await strataOkOn(d, ['launch', 'debian', 'vm2', '--network', 'lan', '--memory', '256M', '-q']);
  // A QEMU guest on the same network: its stream netdev is dialled by the network's switch.
  await strataOkOn(d, ['launch', 'debian', 'vm3', '--engine', 'qemu', '--network', 'lan', '--memory', '256M', '-q']);

  const addresses: string[] = [];
  const consoles: ConsoleViewer[] = [];
  for (const name of ['vm1', 'vm2', 'vm3']) {
    const v = new ConsoleViewer(d, name);
    viewers.push(v);
    await v.opened;
    consoles.push(v);
  }
  for (const v of consoles) {
    const m = await v.waitFor(/strata: eth0 configured by DHCP: ([\d.]+)\//, 300_000);
    addresses.push(m[1] ?? '');
    await v.waitFor(/:~# /, 120_000);
  }
  const [a1, a2, a3] = addresses;
  assert.ok(
    addresses.every((a) => a.startsWith('10.0.31.')),
    `DHCP leases in the subnet: ${addresses}`,
  );
  assert.equal(new Set(addresses).size, 3, `three different leases: ${addresses}`);

  const [c1, c2, c3] = consoles as [ConsoleViewer, ConsoleViewer, ConsoleViewer];
  const p1 = await c1.command(`ping -c 3 -w 20 ${a2}`, /(\d+) packets received/, 90_000);
  assert.ok(Number(p1[1]) > 0, `vm1 pings vm2: ${c1.text.slice(-400)}`);
  const p2 = await c2.command(`ping -c 3 -w 20 ${a1}`, /(\d+) packets received/, 90_000);
  assert.ok(Number(p2[1]) > 0, `vm2 pings vm1: ${c2.text.slice(-400)}`);
  const p3 = await c3.command(`ping -c 3 -w 20 ${a1}`, /(\d+) packets received/, 90_000);
  assert.ok(Number(p3[1]) > 0, `the QEMU guest pings a builtin guest: ${c3.text.slice(-400)}`);
  const p4 = await c1.command(`ping -c 3 -w 20 ${a3}`, /(\d+) packets received/, 90_000);
  assert.ok(Number(p4[1]) > 0, `a builtin guest pings the QEMU guest: ${c1.text.slice(-400)}`);

  for (const name of ['vm1', 'vm2', 'vm3']) {
    for (const m of [
      'strata_instance_nic_rx_bytes_total',
      'strata_instance_nic_tx_bytes_total',
      'strata_instance_nic_rx_packets_total',
      'strata_instance_nic_tx_packets_total',
    ]) {
      assert.ok((await metric(d, m, name)) > 0, `${m} of ${name} is above zero`);
    }
  }
});
