// A container and a VM on one network, through the daemon: a network with DHCP, a Debian guest of the builtin engine
// and a busybox container run by runc join it; both get their leases from the network's DHCP server (its lease
// table shows them), the container pings the VM (`strata exec`) and the VM pings the container (its console). The
// container's NIC is a port of the network's switch like the VM's; it comes back after stop/start with the same
// address, and stop and delete leave no TAP bridge helper, no port and no interface. A sandbox is refused a network.
// A TAP bridge helper that is killed while its container runs is replaced by the daemon (this daemon's helper, or
// one an earlier daemon started), told as `instance-nic-reattached`, and the container reaches its gateway again.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { TAP_BRIDGE_PATH } from '../../src/services/containers/network-hook.js';
import { tempHome } from '../helpers/daemon-harness.js';
import {
  apiOn,
  ConsoleViewer,
  type DaemonProcess,
  killVmms,
  linkDebianImage,
  startDaemonProcess,
  strataOkOn,
  strataOn,
} from '../helpers/daemon-process.js';
import { helloModule } from '../helpers/wasi-modules.js';

const skip =
  process.getuid?.() !== 0
    ? 'containers need root (mount, cgroups, network namespaces)'
    : !existsSync('/dev/net/tun')
      ? 'no /dev/net/tun'
      : !existsSync(TAP_BRIDGE_PATH)
        ? 'TAP bridge helper not built (no C compiler)'
        : false;

interface NetworkShow {
  ports: { name: string }[];
  leases: { ip: string; mac: string; state: string }[];
}

async function networkShow(d: DaemonProcess, name: string): Promise<NetworkShow> {
  return JSON.parse(await strataOkOn(d, ['network', 'show', name, '--format', 'json'])) as NetworkShow;
}

/** Pids of TAP bridge helpers attached to a network of `home` (found by their command line). */
function helpers(home: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const argv = cmd.split('\0');
    if (argv[0]?.endsWith('strata-tap-bridge') && argv.some((a) => a.startsWith(home))) out.push(Number(p));
  }
  return out;
}

/** The lifecycle events of instance `name` kept by the daemon so far (action, and the event's data). */
async function lifecycle(d: DaemonProcess, name: string): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${d.url}/1.0/events?since=0`, { headers: { authorization: `Bearer ${d.token}` } });
  const all = (await res.json()) as { type: string; resource: string; data: Record<string, unknown> }[];
  return all.filter((e) => e.type === 'lifecycle' && e.resource === `/1.0/instances/${name}`).map((e) => e.data);
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Kills the TAP bridge helper `pid` and waits for the daemon's `instance-nic-reattached` (the `n`-th one). */
async function killHelperAndWait(d: DaemonProcess, name: string, pid: number, n: number) {
  process.kill(pid, 'SIGKILL');
  return until(`re-attach #${n} of ${name}`, async () => {
    const re = (await lifecycle(d, name)).filter((e) => e.action === 'instance-nic-reattached');
    return re.length >= n ? re[n - 1] : undefined;
  });
}

/** The container's eth0 address (`10.0.47.100`), through `strata exec`. */
async function containerAddress(d: DaemonProcess, name: string): Promise<{ ip: string; mac: string }> {
  const out = await strataOkOn(d, ['exec', name, '--', 'ip', '-o', 'addr', 'show', 'dev', 'eth0']);
  const link = await strataOkOn(d, ['exec', name, '--', 'cat', '/sys/class/net/eth0/address']);
  const m = /inet (\d+\.\d+\.\d+\.\d+)\/24/.exec(out);
  assert.ok(m, `the container's eth0 has an address: ${out}`);
  return { ip: m[1] ?? '', mac: link.trim() };
}

test('daemon: a container and a VM on one network get DHCP leases and ping each other; stop and delete leave nothing', {
  skip,
  timeout: 15 * 60_000,
}, async (t) => {
  const home = tempHome('scn-');
  await linkDebianImage(home);
  const d = await startDaemonProcess(home);
  const viewers: ConsoleViewer[] = [];
  t.after(async () => {
    for (const v of viewers) v.close();
    for (const pid of helpers(home)) process.kill(pid, 'SIGKILL');
    await strataOn(d, ['delete', 'cnc1', '--force'], 60_000).catch(() => undefined);
    await d.stop().catch(() => undefined);
    killVmms(home);
    await new Promise((r) => setTimeout(r, 200));
    rmSync(home, { recursive: true, force: true });
  });

  await strataOkOn(d, ['network', 'create', 'cnet', '--subnet', '10.0.47.0/24', '--dhcp']);
  await strataOkOn(d, ['image', 'pull', 'busybox', '--type', 'container', '-q']);

  // A sandbox has no network interface; an unknown network is named; neither leaves an instance behind.
  const sandbox = await apiOn(d, 'POST', '/1.0/instances', {
    name: 'cns1',
    type: 'sandbox',
    image: 'hello.wasm',
    module: Buffer.from(helloModule('hi')).toString('base64'),
    network: 'cnet',
  });
  assert.equal(sandbox.status, 400);
  assert.match(JSON.stringify(sandbox.body.error), /network: a sandbox cannot join a network/);
  const unknown = await strataOn(d, ['launch', 'busybox', 'cnc2', '--type', 'container', '--network', 'nosuch', '-q']);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.out, /no network named 'nosuch'/);
  const names = ((await apiOn(d, 'GET', '/1.0/instances')).body as unknown as { name: string }[]).map((i) => i.name);
  assert.deepEqual(names, []);

  await strataOkOn(d, ['launch', 'debian', 'cnvm', '--network', 'cnet', '--memory', '256M', '-q']);
  const vm = new ConsoleViewer(d, 'cnvm');
  viewers.push(vm);
  await vm.opened;
  await strataOkOn(d, ['launch', 'busybox', 'cnc1', '--type', 'container', '--network', 'cnet', '-q']);
  const info = await apiOn(d, 'GET', '/1.0/instances/cnc1');
  assert.equal(info.body.network, 'cnet');
  assert.equal(info.body.type, 'container');
  const ctr = await containerAddress(d, 'cnc1');
  assert.ok(ctr.ip.startsWith('10.0.47.'), `container lease in the subnet: ${ctr.ip}`);

  const vmIp = (await vm.waitFor(/strata: eth0 configured by DHCP: ([\d.]+)\//, 300_000))[1] ?? '';
  await vm.waitFor(/:~# /, 120_000);
  assert.ok(vmIp.startsWith('10.0.47.') && vmIp !== ctr.ip, `VM lease ${vmIp}, container ${ctr.ip}`);

  // Both leases come from the network's DHCP server; the container is a port of the switch like the VM.
  const net = await networkShow(d, 'cnet');
  const lease = net.leases.find((l) => l.ip === ctr.ip);
  assert.equal(lease?.mac, ctr.mac, `the container's lease in ${JSON.stringify(net.leases)}`);
  assert.equal(lease?.state, 'bound');
  assert.ok(
    net.leases.some((l) => l.ip === vmIp && l.state === 'bound'),
    `VM lease in ${JSON.stringify(net.leases)}`,
  );
  const portNames = net.ports.map((p) => p.name);
  assert.ok(portNames.includes('cnc1') && portNames.includes('cnvm'), `ports: ${portNames}`);
  const usedBy = (await apiOn(d, 'GET', '/1.0/networks/cnet')).body.usedBy as string[];
  assert.deepEqual([...usedBy].sort(), ['/1.0/instances/cnc1', '/1.0/instances/cnvm']);

  // The state route shows both NICs with their MAC and leased address, as the web console lists them.
  type Nic = { network: string; mac: string | null; ipv4: string | null };
  const nicsOf = async (name: string) =>
    ((await apiOn(d, 'GET', `/1.0/instances/${name}/state`)).body as unknown as { nics: Nic[] }).nics;
  const ctrNics = await nicsOf('cnc1');
  assert.deepEqual(
    ctrNics.map((n) => [n.network, n.mac, n.ipv4]),
    [['cnet', ctr.mac, ctr.ip]],
  );
  assert.deepEqual(
    (await nicsOf('cnvm')).map((n) => [n.network, n.ipv4]),
    [['cnet', vmIp]],
  );

  // Container -> VM, then VM -> container.
  const fromCtr = await strataOn(d, ['exec', 'cnc1', '--', 'ping', '-c', '3', '-W', '10', vmIp]);
  assert.equal(fromCtr.code, 0, `the container pings the VM: ${fromCtr.out}`);
  assert.match(fromCtr.out, /3 packets transmitted, [1-3] packets received/);
  const fromVm = await vm.command(`ping -c 3 -w 20 ${ctr.ip}`, /(\d+) packets received/, 90_000);
  assert.ok(Number(fromVm[1]) > 0, `the VM pings the container: ${vm.text.slice(-400)}`);

  // Stop: the helper and the port go; start: attached again with the same lease.
  assert.equal(helpers(home).length, 1);
  await strataOkOn(d, ['stop', 'cnc1']);
  assert.deepEqual(helpers(home), []);
  assert.ok(!(await networkShow(d, 'cnet')).ports.some((p) => p.name === 'cnc1'), 'no port after stop');
  await strataOkOn(d, ['start', 'cnc1']);
  const again = await containerAddress(d, 'cnc1');
  assert.deepEqual(again, ctr);
  const afterStart = await strataOn(d, ['exec', 'cnc1', '--', 'ping', '-c', '2', '-W', '10', vmIp]);
  assert.equal(afterStart.code, 0, `the container pings the VM after stop/start: ${afterStart.out}`);

  // Delete: no helper, no port, no interface with the container's MAC anywhere on the host.
  await strataOkOn(d, ['delete', 'cnc1', '--force']);
  assert.deepEqual(helpers(home), []);
  assert.ok(!(await networkShow(d, 'cnet')).ports.some((p) => p.name === 'cnc1'), 'no port after delete');
  const links = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout;
  assert.ok(!links.includes(ctr.mac), 'no interface with the container MAC on the host');
  assert.deepEqual((await apiOn(d, 'GET', '/1.0/networks/cnet')).body.usedBy, ['/1.0/instances/cnvm']);
});

test('daemon restart: the next daemon adopts a container on a network, shows its address and ends its helper on stop', {
  skip,
  timeout: 5 * 60_000,
}, async (t) => {
  const home = tempHome('scr-');
  let d = await startDaemonProcess(home);
  t.after(async () => {
    for (const pid of helpers(home)) process.kill(pid, 'SIGKILL');
    await strataOn(d, ['delete', 'cnr1', '--force'], 60_000).catch(() => undefined);
    await d.stop().catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  });
  await strataOkOn(d, ['network', 'create', 'cnrnet', '--subnet', '10.0.93.0/24', '--dhcp']);
  await strataOkOn(d, ['image', 'pull', 'busybox', '--type', 'container', '-q']);
  await strataOkOn(d, ['launch', 'busybox', 'cnr1', '--type', 'container', '--network', 'cnrnet', '-q']);
  const addr = await containerAddress(d, 'cnr1');
  const [helper] = helpers(home);
  assert.ok(helper, 'one helper runs');

  // The daemon goes; the container, its helper and its lease stay.
  await d.stop();
  assert.deepEqual(helpers(home), [helper]);
  d = await startDaemonProcess(home);
  const info = await apiOn(d, 'GET', '/1.0/instances/cnr1');
  assert.equal(info.body.status, 'running');
  assert.equal(info.body.network, 'cnrnet');
  assert.deepEqual(await containerAddress(d, 'cnr1'), addr, 'the adopted container keeps its address');
  const ping = await strataOn(d, ['exec', 'cnr1', '--', 'ping', '-c', '1', '-W', '5', '10.0.93.1']);
  assert.equal(ping.code, 0, `the adopted container still reaches its gateway: ${ping.out}`);

  // The helper the earlier daemon started dies: this daemon, which watches it by its recorded pid and start time,
  // attaches the container again.
  const re = await killHelperAndWait(d, 'cnr1', helper, 1);
  assert.equal(re.network, 'cnrnet');
  assert.match(String(re.reason), new RegExp(`helper \\(pid ${helper}\\) ended`));
  const [adoptedNew] = helpers(home);
  assert.ok(adoptedNew && adoptedNew !== helper, `a new helper runs: ${helpers(home)}`);
  assert.deepEqual(await containerAddress(d, 'cnr1'), addr, 'the same lease after the re-attach');
  const pingAgain = await strataOn(d, ['exec', 'cnr1', '--', 'ping', '-c', '1', '-W', '5', '10.0.93.1']);
  assert.equal(pingAgain.code, 0, `the container reaches its gateway after the re-attach: ${pingAgain.out}`);

  // Stop: the helper the earlier daemon started ends with it (found by its recorded pid and start time).
  await strataOkOn(d, ['stop', 'cnr1']);
  assert.deepEqual(helpers(home), []);
  await strataOkOn(d, ['delete', 'cnr1']);
  assert.ok(!(await networkShow(d, 'cnrnet')).ports.some((p) => p.name === 'cnr1'), 'no port after delete');
});

test("a killed TAP bridge helper is replaced (a bounded number of times in a row); its container's own end leaves no helper", {
  skip,
  timeout: 5 * 60_000,
}, async (t) => {
  const home = tempHome('scw-');
  const d = await startDaemonProcess(home);
  t.after(async () => {
    for (const pid of helpers(home)) process.kill(pid, 'SIGKILL');
    await strataOn(d, ['delete', 'cnw1', '--force'], 60_000).catch(() => undefined);
    await d.stop().catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  });
  await strataOkOn(d, ['network', 'create', 'cnwnet', '--subnet', '10.0.95.0/24', '--dhcp']);
  await strataOkOn(d, ['image', 'pull', 'busybox', '--type', 'container', '-q']);
  await strataOkOn(d, ['launch', 'busybox', 'cnw1', '--type', 'container', '--network', 'cnwnet', '-q']);
  const addr = await containerAddress(d, 'cnw1');
  const [first] = helpers(home);
  assert.ok(first, 'one helper runs');

  // SIGKILL: the TAP device goes with the helper; the daemon notices, starts a new helper and runs DHCP again.
  const re1 = await killHelperAndWait(d, 'cnw1', first, 1);
  assert.equal(re1.network, 'cnwnet');
  assert.equal(re1.type, 'container');
  assert.match(String(re1.reason), new RegExp(`helper \\(pid ${first}\\) ended; attached again by helper pid \\d+`));
  const [second] = helpers(home);
  assert.ok(second && second !== first, `a new helper runs: ${helpers(home)}`);
  assert.deepEqual(await containerAddress(d, 'cnw1'), addr, 'the same lease after the re-attach');
  const ping = await strataOn(d, ['exec', 'cnw1', '--', 'ping', '-c', '2', '-W', '5', '10.0.95.1']);
  assert.equal(ping.code, 0, `the container reaches its gateway after the re-attach: ${ping.out}`);
  assert.ok(
    (await networkShow(d, 'cnwnet')).ports.some((p) => p.name === 'cnw1'),
    'its port is back',
  );
  // One DHCP client runs in the container, not one per attach.
  const ps = await strataOkOn(d, ['exec', 'cnw1', '--', 'sh', '-c', 'cat /proc/[0-9]*/comm']);
  assert.equal(ps.split('\n').filter((c) => c === 'udhcpc').length, 1, `processes: ${ps}`);

  // Killed again right away: replaced again (after a back-off), still the same lease.
  const re2 = await killHelperAndWait(d, 'cnw1', second, 2);
  assert.match(String(re2.reason), new RegExp(`helper \\(pid ${second}\\) ended`));
  assert.deepEqual(await containerAddress(d, 'cnw1'), addr);
  assert.equal(helpers(home).length, 1);

  // A helper that keeps dying is not replaced for ever: after 5 re-attaches in a row that did not last, the next
  // death is told as instance-nic-lost and no helper is started any more for this run.
  for (let n = 3; n <= 5; n++) {
    const [h] = helpers(home);
    assert.ok(h, `a helper runs before kill #${n}`);
    await killHelperAndWait(d, 'cnw1', h, n);
  }
  const [last] = helpers(home);
  assert.ok(last, 'a helper runs after 5 re-attaches');
  process.kill(last, 'SIGKILL');
  const lost = await until('instance-nic-lost', async () =>
    (await lifecycle(d, 'cnw1')).find((e) => e.action === 'instance-nic-lost'),
  );
  assert.equal(lost.network, 'cnwnet');
  assert.match(String(lost.reason), /5 re-attaches in a row did not last/);
  await new Promise((r) => setTimeout(r, 3000));
  assert.deepEqual(helpers(home), [], 'no helper is started after the daemon gave up');
  assert.equal((await apiOn(d, 'GET', '/1.0/instances/cnw1')).body.status, 'running', 'the container itself runs on');

  // The init ends by itself: the stop is told with its reason, the helper and the port go, and nothing is attached
  // again (the daemon forgot the NIC with the run).
  // `kill` itself may be killed with the rest of the container before its exit reaches runc (137).
  const kill = await strataOn(d, ['exec', 'cnw1', '--', 'kill', '1']);
  assert.ok(kill.code === 0 || kill.code === 137, `strata exec cnw1 -- kill 1: ${kill.code} ${kill.out}`);
  const stopped = await until('the stop event', async () =>
    (await lifecycle(d, 'cnw1')).find((e) => e.action === 'instance-stopped'),
  );
  assert.equal(stopped.reason, 'exited with code 0');
  await until('no helper', async () => (helpers(home).length === 0 ? true : undefined), 10_000);
  await new Promise((r) => setTimeout(r, 3000));
  assert.deepEqual(helpers(home), [], 'no helper started for a stopped container');
  const nicEvents = (await lifecycle(d, 'cnw1')).filter((e) => String(e.action).startsWith('instance-nic-'));
  assert.equal(nicEvents.length, 6, `NIC events: ${JSON.stringify(nicEvents)}`);
  assert.ok(!(await networkShow(d, 'cnwnet')).ports.some((p) => p.name === 'cnw1'), 'no port after its end');
  assert.doesNotMatch(readFileSync(`${home}/daemon.log`, 'utf8'), /not attached again/);

  // Started again: attached with the same lease, and watched again.
  await strataOkOn(d, ['start', 'cnw1']);
  assert.deepEqual(await containerAddress(d, 'cnw1'), addr);
  const [third] = helpers(home);
  assert.ok(third, 'a helper runs after start');
  await killHelperAndWait(d, 'cnw1', third, 6);
  const pingLast = await strataOn(d, ['exec', 'cnw1', '--', 'ping', '-c', '1', '-W', '5', '10.0.95.1']);
  assert.equal(pingLast.code, 0, `the container reaches its gateway: ${pingLast.out}`);
});
