import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPcap } from '../../src/services/network/pcap-writer.js';
import { Guest, networkTestHome, strataOk } from '../helpers/network-guests.js';
import { runStrata } from '../helpers/strata-cli.js';

const hasOfctl = spawnSync('ovs-ofctl', ['--version']).status === 0;
const hasTshark = spawnSync('tshark', ['--version']).status === 0;
const hasTestController = spawnSync('ovs-testcontroller', ['--version']).status === 0;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createTcpServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

// Three Debian guests on Strata's engine, each in its own `strata run` process, on two networks that share one
// router; the networks start on demand in a background `strata network serve`. One test, because booting a guest
// here takes tens of seconds: every acceptance point of the network issue that needs guests runs against the
// same three.
//   vm1, vm2: network na (10.0.11.0/24, DHCP, NAT), VLAN 1
//   vm3:      eth0 on network nb (10.0.12.0/24, DHCP), eth1 on network na's switch in VLAN 20
//   vm1, vm2: eth1 on network ofnet, a plain switch whose OpenFlow agent connects to ovs-testcontroller
test('guests get DHCP leases, ping each other, route between networks, are kept apart by VLANs and OpenFlow, reach the host through NAT', {
  timeout: 12 * 60_000,
}, async (t) => {
  const { home, cleanup } = await networkTestHome();
  const guests: Guest[] = [];
  t.after(async () => {
    for (const g of guests) g.vm.kill();
    // Background network servers end by themselves when their NICs are gone; give them no reason to linger.
    await new Promise((r) => setTimeout(r, 200));
    cleanup();
  });
  const token = `hello-from-the-host-${process.pid}`;
  const http = createServer((_req, res) => res.end(`${token}\n`));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  t.after(() => http.close());
  const httpPort = (http.address() as AddressInfo).port;

  await strataOk(home, ['network', 'create', 'na', '--subnet', '10.0.11.0/24', '--dhcp', '--nat', '--router', 'r1']);
  await strataOk(home, ['network', 'create', 'nb', '--subnet', '10.0.12.0/24', '--dhcp', '--router', 'r1']);
  // Open vSwitch's reference controller, for ofnet's switch to connect to.
  const ofPort = await freePort();
  if (hasTestController) {
    const ctl = spawn('ovs-testcontroller', [`--unixctl=${join(home, 'tc.ctl')}`, `ptcp:${ofPort}:127.0.0.1`], {
      stdio: 'ignore',
    });
    t.after(() => ctl.kill());
  }
  await strataOk(home, ['network', 'create', 'ofnet', '--openflow', `tcp:127.0.0.1:${ofPort}`]);

  const vm1 = new Guest('vm1', home, [
    '--nic',
    'network=na,mac=02:00:00:0b:00:01,port=vm1',
    '--nic',
    'network=ofnet,mac=02:00:00:0f:00:01,port=of1',
  ]);
  const vm2 = new Guest('vm2', home, [
    '--nic',
    'network=na,mac=02:00:00:0b:00:02,port=vm2',
    '--nic',
    'network=ofnet,mac=02:00:00:0f:00:02,port=of2',
  ]);
  const vm3 = new Guest('vm3', home, [
    '--nic',
    'network=nb,mac=02:00:00:0c:00:03,port=vm3',
    '--nic',
    'network=na,mac=02:00:00:0b:00:33,vlan=20,port=vm3-v20',
  ]);
  guests.push(vm1, vm2, vm3);
  await Promise.all(guests.map((g) => g.ready({ dhcp: true })));
  const [ip1, ip2, ip3] = [vm1.dhcpAddress!, vm2.dhcpAddress!, vm3.dhcpAddress!];
  assert.match(ip1, /^10\.0\.11\.\d+$/);
  assert.match(ip2, /^10\.0\.11\.\d+$/);
  assert.notEqual(ip1, ip2);
  assert.match(ip3, /^10\.0\.12\.\d+$/);

  // The leases are visible on the host too.
  const show = JSON.parse((await strataOk(home, ['network', 'show', 'na', '--format', 'json'])).stdout) as {
    running: boolean;
    runtime: { openflow: { mode: string; port: number } };
    ports: { name: string }[];
    leases: { ip: string; state: string }[];
  };
  assert.equal(show.running, true);
  assert.deepEqual(
    show.leases
      .filter((l) => l.state === 'bound')
      .map((l) => l.ip)
      .sort(),
    [ip1, ip2].sort(),
  );
  assert.ok(
    ['vm1', 'vm2', 'vm3-v20'].every((p) => show.ports.some((x) => x.name === p)),
    JSON.stringify(show.ports),
  );

  await t.test('two VMs on one network ping each other', async () => {
    assert.ok((await vm1.ping(ip2)) > 0, vm1.vm.transcript.slice(-1500));
    assert.ok((await vm2.ping(ip1)) > 0);
  });

  await t.test('the shared router joins the two networks: vm3 on nb reaches vm1 on na', async () => {
    const p = await vm3.pingOut(ip1);
    assert.ok(p.received > 0, vm3.vm.transcript.slice(-1500));
    // One router hop: the replies' TTL (64 from vm1) was decremented once.
    assert.match(p.out, /ttl=63/);
  });

  await t.test("VLANs: vm3 on VLAN 20 of na's switch cannot reach vm1 on VLAN 1", async () => {
    // A connected route via eth1 (VLAN 20) for 10.0.11.0/24 makes vm3 try vm1 directly over that port.
    const up = await vm3.sh('ip link set eth1 up && ip addr add 10.0.11.250/24 dev eth1');
    assert.equal(up.rc, 0, up.out);
    assert.equal(await vm3.ping(ip1, 2, 3), 0, 'no reply across VLANs');
    assert.equal(await vm1.ping('10.0.11.250', 1, 3), 0);
    await vm3.sh('ip addr flush dev eth1 && ip link set eth1 down');
    assert.ok((await vm3.ping(ip1)) > 0, 'back through the router once eth1 is gone');
  });

  await t.test(
    'an OpenFlow drop rule added with ovs-ofctl stops the ping; deleting it restores it',
    {
      skip: !hasOfctl && 'no ovs-ofctl',
    },
    async () => {
      assert.equal(show.runtime.openflow.mode, 'ptcp');
      const target = `tcp:127.0.0.1:${show.runtime.openflow.port}`;
      const ofctl = (...args: string[]) => {
        const r = spawnSync('ovs-ofctl', ['-O', 'OpenFlow13', ...args], { encoding: 'utf8', timeout: 20_000 });
        assert.equal(r.status, 0, `ovs-ofctl ${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      };
      ofctl('add-flow', target, 'priority=100,icmp,actions=drop');
      const flows = (await strataOk(home, ['network', 'flows', 'na'])).stdout;
      assert.match(flows, /100\s+eth_type=0x0800,ip_proto=1\s+drop/, flows);
      assert.equal(await vm1.ping(ip2, 2, 4), 0, 'ICMP dropped by the flow');
      const json = JSON.parse((await strataOk(home, ['network', 'flows', 'na', '--format', 'json'])).stdout) as {
        priority: number;
        packets: number;
      }[];
      assert.ok((json.find((f) => f.priority === 100)?.packets ?? 0) >= 2, 'the drop rule counted the pings');
      ofctl('--strict', 'del-flows', target, 'priority=100,icmp');
      assert.doesNotMatch(ofctl('dump-flows', target), /priority=100/);
      assert.ok((await vm1.ping(ip2)) > 0, 'ping restored');
    },
  );

  await t.test(
    'a guest fetches a page from an HTTP server on the host loopback through NAT (busybox wget)',
    async () => {
      const r = await vm1.sh(`wget -q -T 20 -O - http://10.0.11.1:${httpPort}/`, 90_000);
      assert.equal(r.rc, 0, r.out);
      assert.match(r.out, new RegExp(token));
    },
  );

  await t.test('strata network capture writes a pcap of a port that tshark reads', async () => {
    const file = join(home, 'vm2.pcap');
    const capture = runStrata(['network', 'capture', 'na', '--port', 'vm2', '--output', file, '--count', '4'], {
      env: { STRATA_HOME: home },
      timeoutMs: 90_000,
    });
    await new Promise((r) => setTimeout(r, 1500));
    await vm1.ping(ip2, 3, 10);
    const c = await capture;
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /captured 4 frames/);
    const pcap = readPcap(new Uint8Array(readFileSync(file)));
    assert.equal(pcap.frames.length, 4);
    if (hasTshark) {
      const ts = spawnSync('tshark', ['-r', file], { encoding: 'utf8' });
      assert.equal(ts.status, 0, ts.stderr);
      assert.match(ts.stdout, /ICMP/);
    }
  });

  await t.test(
    'ovs-testcontroller drives ofnet as an L2 learning switch and the guests ping each other on it',
    {
      skip: !hasTestController && 'no ovs-testcontroller',
    },
    async () => {
      const show = JSON.parse((await strataOk(home, ['network', 'show', 'ofnet', '--format', 'json'])).stdout) as {
        runtime: { openflow: unknown };
      };
      assert.deepEqual(show.runtime.openflow, { mode: 'tcp', host: '127.0.0.1', port: ofPort });
      for (const [g, addr] of [
        [vm1, '192.168.77.1'],
        [vm2, '192.168.77.2'],
      ] as const) {
        const r = await g.sh(`ip link set eth1 up && ip addr add ${addr}/24 dev eth1`);
        assert.equal(r.rc, 0, r.out);
      }
      assert.ok((await vm1.ping('192.168.77.2', 3, 15)) > 0, vm1.vm.transcript.slice(-1500));
      const flows = JSON.parse((await strataOk(home, ['network', 'flows', 'ofnet', '--format', 'json'])).stdout) as {
        match: string;
        actions: string;
      }[];
      // The controller's flows: exact matches on the guests' MACs with outputs to their ports.
      assert.ok(
        flows.some((f) => /eth_dst=02:00:00:0f:00:0[12]/.test(f.match) && /output:\d+/.test(f.actions)),
        JSON.stringify(flows, null, 1),
      );
    },
  );

  await Promise.all(guests.map((g) => g.stop()));
  for (const g of guests) assert.equal(g.vm.child.exitCode, 0, g.vm.transcript.slice(-1000));
  // The background network servers started on demand end by themselves once their last NIC is gone.
  let running: string[] = [];
  for (let i = 0; i < 60; i++) {
    const list = JSON.parse((await strataOk(home, ['network', 'list', '--format', 'json'])).stdout) as {
      name: string;
      running: boolean;
    }[];
    running = list.filter((n) => n.running).map((n) => n.name);
    if (running.length === 0) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.deepEqual(running, [], 'no network server lingers');
});
