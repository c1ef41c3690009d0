import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isStrataError } from '../../base/errors.js';
import { readMac } from './ethernet.js';
import {
  controlRequest,
  ensureNetworkServed,
  type FlowRow,
  type NetworkStatus,
  networkPaths,
  readRuntime,
  serveNetworkGroup,
} from './network-service.js';
import { NetworkStore } from './network-store.js';
import { readPcap } from './pcap-writer.js';
import { connectSwitchEndpoint, type EndpointClient } from './switch-endpoint.js';
import { arpFrame, icmpEchoFrame, ip } from './test-frames.js';

function home(t: { after: (fn: () => void) => void }): NetworkStore {
  const d = mkdtempSync(join(tmpdir(), 'strata-netsvc-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return new NetworkStore(d);
}

const code = (c: string) => (e: unknown) => isStrataError(e) && e.code === c;

test('network definitions: validated, normalised, atomic, overlapping subnets and bad names refused', async (t) => {
  const store = home(t);
  const a = await store.create({ name: 'a', subnet: '10.1.0.77/24', dhcp: true, nat: false });
  assert.equal(a.subnet, '10.1.0.0/24');
  assert.equal(a.gateway, '10.1.0.77', 'a host address given as the subnet is the gateway');
  await assert.rejects(store.create({ name: 'a', dhcp: false, nat: false }), code('ALREADY_EXISTS'));
  await assert.rejects(
    store.create({ name: 'b', subnet: '10.1.0.128/25', dhcp: false, nat: false }),
    /subnet 10\.1\.0\.128\/25 overlaps 10\.1\.0\.0\/24 of network 'a'/,
  );
  for (const bad of ['../x', 'a/b', '.hidden', '', 'x'.repeat(33)]) {
    await assert.rejects(store.create({ name: bad, dhcp: false, nat: false }), /invalid network name/);
  }
  await assert.rejects(store.create({ name: 'v', vlan: 4095, dhcp: false, nat: false }), /invalid VLAN id '4095'/);
  await assert.rejects(store.create({ name: 'n', dhcp: true, nat: false }), /need --subnet/);
  await assert.rejects(
    store.create({ name: 'g', subnet: '10.2.0.0/24', gateway: '10.3.0.1', dhcp: false, nat: false }),
    /invalid gateway '10\.3\.0\.1'/,
  );
  await assert.rejects(store.create({ name: 'o', openflow: 'udp:1', dhcp: false, nat: false }), /bad OpenFlow target/);
  await assert.rejects(store.get('nope'), /unknown network 'nope' \(known: a\)/);
  assert.deepEqual(
    readdirSync(store.dir).sort(),
    ['a.json'],
    'failed creates leave nothing behind (no temporary files either)',
  );
  await store.delete('a');
  assert.deepEqual(await store.list(), []);
});

/** Attaches a client and collects what it receives. */
async function attach(store: NetworkStore, net: string, port: string) {
  const c = await connectSwitchEndpoint(networkPaths(store.runDir, net).socket, { network: net, name: port });
  const rx: Uint8Array[] = [];
  c.setReceiver((f) => {
    rx.push(f);
    return true;
  });
  return { c, rx };
}

async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return cond();
}

test('a group of networks sharing a router: served together, routed, controlled, captured, stopped when idle', async (t) => {
  const store = home(t);
  await store.create({ name: 'na', subnet: '10.5.1.0/24', dhcp: true, nat: false, router: 'r' });
  await store.create({ name: 'nb', subnet: '10.5.2.0/24', dhcp: false, nat: false, router: 'r', vlan: 7 });
  const host = await serveNetworkGroup(store, 'na', { idleSeconds: 0.5, dnsUpstream: null });
  t.after(() => host.close());
  assert.deepEqual([...host.networks.keys()].sort(), ['na', 'nb']);
  await assert.rejects(serveNetworkGroup(store, 'nb'), /already served by process/);
  const rt = await readRuntime(store.runDir, 'nb');
  assert.equal(rt?.pid, process.pid);
  assert.equal(rt?.openflow.mode, 'ptcp');
  assert.ok((rt?.openflow.port ?? 0) > 0);

  const A = 0x020000000a01;
  const B = 0x020000000b01;
  const a = await attach(store, 'na', 'pa');
  const b = await attach(store, 'nb', 'pb');
  // Learn the gateways' MACs by ARP; nb's router port sits in VLAN 7 like the network's NICs.
  a.c.send(arpFrame(1, A, ip('10.5.1.10'), 0, ip('10.5.1.1')));
  b.c.send(arpFrame(1, B, ip('10.5.2.10'), 0, ip('10.5.2.1')));
  assert.ok(await until(() => a.rx.length > 0 && b.rx.length > 0), 'ARP replies');
  const gwA = readMac(a.rx[0]!, 6);
  b.rx.length = 0;
  // a pings b's address through the router, which learned b's MAC from its ARP request: the echo arrives on nb.
  a.c.send(icmpEchoFrame(gwA, A, ip('10.5.1.10'), ip('10.5.2.10'), 1, 1));
  assert.ok(
    await until(() => b.rx.some((f) => f[12] === 0x08 && f[13] === 0x00 && f[14 + 8] === 63)),
    'echo routed to nb with its TTL decremented',
  );

  const status = await controlRequest<NetworkStatus>(store.runDir, 'nb', { op: 'status' });
  assert.deepEqual(
    status.ports.map((p) => [p.name, p.vlan]),
    [
      ['gw-nb', { mode: 'access', vlan: 7 }],
      ['pb', { mode: 'access', vlan: 7 }],
    ],
  );
  const flows = await controlRequest<FlowRow[]>(store.runDir, 'na', { op: 'flows' });
  assert.deepEqual(
    flows.map((f) => [f.table, f.priority, f.match, f.actions]),
    [[0, 0, '*', 'output:NORMAL']],
  );
  await assert.rejects(
    controlRequest(store.runDir, 'na', { op: 'capture', port: 'nope', path: join(store.home, 'x.pcap') }),
    /network 'na' has no port 'nope' \(ports: 1:gw-na, 2:pa\)/,
  );
  const file = join(store.home, 'pa.pcap');
  const cap = controlRequest<{ frames: number }>(store.runDir, 'na', {
    op: 'capture',
    port: 'pa',
    path: file,
    count: 2,
  });
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 3; i++) a.c.send(arpFrame(1, A, ip('10.5.1.10'), 0, ip('10.5.1.1')));
  assert.deepEqual(await cap, { frames: 2, dropped: 0 });
  assert.equal(readPcap(new Uint8Array(readFileSync(file))).frames.length, 2);

  // A capture without a limit runs until the client says stop (Ctrl-C in `strata network capture`).
  const stop = new AbortController();
  const open = controlRequest<{ frames: number }>(
    store.runDir,
    'na',
    { op: 'capture', port: '2', path: join(store.home, 'open.pcap') },
    stop.signal,
  );
  await new Promise((r) => setTimeout(r, 50));
  a.c.send(arpFrame(1, A, ip('10.5.1.10'), 0, ip('10.5.1.1')));
  await new Promise((r) => setTimeout(r, 100));
  stop.abort();
  assert.deepEqual(await open, { frames: 2, dropped: 0 }, 'the request and the reply');

  // Idle: once both NICs are gone the group stops by itself and removes its files.
  await a.c.close();
  await b.c.close();
  await host.stopped;
  assert.deepEqual(readdirSync(store.runDir), []);
  await assert.rejects(controlRequest(store.runDir, 'na', { op: 'status' }), /network 'na' is not running/);
});

test('ensureNetworkServed starts a server once for racing callers and fails clearly for unknown names', async (t) => {
  const store = home(t);
  await store.create({ name: 'solo', dhcp: false, nat: false });
  let starts = 0;
  const hosts: Promise<unknown>[] = [];
  const start = () => {
    starts++;
    hosts.push(serveNetworkGroup(store, 'solo', { idleSeconds: 0 }).catch((e: unknown) => e));
  };
  await Promise.all([ensureNetworkServed(store, 'solo', start), ensureNetworkServed(store, 'solo', start)]);
  const results = await Promise.all(hosts);
  const served = results.filter((r) => !(r instanceof Error));
  assert.equal(served.length, 1, `one server wins the lock (${starts} started)`);
  t.after(() => (served[0] as { close: () => Promise<void> }).close());
  const c: EndpointClient = await connectSwitchEndpoint(networkPaths(store.runDir, 'solo').socket, {
    network: 'solo',
    name: 'x',
  });
  await c.close();
  await assert.rejects(
    ensureNetworkServed(store, 'other', () => assert.fail('nothing to start')),
    /unknown network 'other' \(known: solo\)/,
  );
  assert.ok(existsSync(networkPaths(store.runDir, 'solo').runtime));
});

test('the endpoint and control sockets of a served network let only their owner connect', async (t) => {
  const store = home(t);
  await store.create({ name: 'privnet', dhcp: false, nat: false });
  const host = await serveNetworkGroup(store, 'privnet', { dnsUpstream: null });
  t.after(() => host.close());
  // The control socket writes captures to any path it is given and the endpoint dials any socket it is named.
  const paths = networkPaths(store.runDir, 'privnet');
  assert.equal((statSync(paths.socket).mode & 0o777).toString(8), '600');
  assert.equal((statSync(paths.control).mode & 0o777).toString(8), '600');
});

test('a control request to a network process that does not answer fails after its timeout', async (t) => {
  const store = home(t);
  await mkdir(store.runDir, { recursive: true });
  // Takes the request and never answers: a hung network process.
  const held: Socket[] = [];
  const mute = createServer((s) => {
    held.push(s);
    s.resume();
  });
  await new Promise<void>((r) => mute.listen(networkPaths(store.runDir, 'hung').control, r));
  t.after(() => {
    for (const s of held) s.destroy();
    mute.close();
  });
  await assert.rejects(
    controlRequest(store.runDir, 'hung', { op: 'status' }, undefined, 200),
    (e: unknown) =>
      isStrataError(e) &&
      e.code === 'UNAVAILABLE' &&
      /network 'hung' did not answer a status request within 200 ms/.test(e.message),
  );
});
