import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hasVlanTag, parseEthernet, pushVlan } from './ethernet.js';
import { MacTable } from './mac-table.js';
import { readPcap } from './pcap-writer.js';
import type { VlanMode } from './port.js';
import { testFrame } from './test-frames.js';
import { VirtualSwitch } from './virtual-switch.js';

const A = 0x020000000001;
const B = 0x020000000002;
const C = 0x020000000003;
const BCAST = 0xffffffffffff;

function rig(modes: VlanMode[], opts: Partial<ConstructorParameters<typeof VirtualSwitch>[0]> = {}) {
  const sw = new VirtualSwitch({ name: 'br-test', ...opts });
  const rx: Uint8Array[][] = modes.map(() => []);
  const ports = modes.map((vlan, i) =>
    sw.addPort({
      name: `p${i + 1}`,
      vlan,
      sink: (f) => {
        rx[i]!.push(f);
        return true;
      },
    }),
  );
  const send = (i: number, f: Uint8Array) => {
    ports[i]!.receive(f);
    sw.flush();
  };
  return { sw, rx, ports, send };
}

const access1: VlanMode = { mode: 'access', vlan: 1 };

test('learns source MACs: unknown unicast floods, then the reply goes only to the learned port', () => {
  const { rx, send } = rig([access1, access1, access1]);
  send(0, testFrame(B, A));
  assert.deepEqual(
    rx.map((r) => r.length),
    [0, 1, 1],
  );
  send(1, testFrame(A, B));
  assert.deepEqual(
    rx.map((r) => r.length),
    [1, 1, 1],
  );
  send(0, testFrame(B, A));
  assert.deepEqual(
    rx.map((r) => r.length),
    [1, 2, 1],
  );
  send(2, testFrame(BCAST, C));
  assert.deepEqual(
    rx.map((r) => r.length),
    [2, 3, 1],
  );
});

test('MAC entries age out and the table stays bounded', () => {
  let now = 0;
  const t = new MacTable({ agingSeconds: 10, capacity: 3, now: () => now });
  t.learn(1, A, 1);
  assert.equal(t.lookup(1, A), 1);
  assert.equal(t.lookup(2, A), undefined, 'per VLAN');
  now = 11_000;
  assert.equal(t.lookup(1, A), undefined);
  for (let i = 0; i < 100; i++) t.learn(1, 0x020000001000 + i, 2);
  assert.ok(t.size <= 3);
  assert.equal(t.lookup(1, 0x020000001000 + 99), 2, 'newest kept');
});

test('802.1Q: access ports keep VLANs apart, trunks tag all but the native VLAN', () => {
  const { rx, send } = rig([
    { mode: 'access', vlan: 10 },
    { mode: 'access', vlan: 20 },
    { mode: 'trunk', allowed: [10, 20], native: 20 },
    { mode: 'access', vlan: 10 },
  ]);
  send(0, testFrame(BCAST, A));
  assert.equal(rx[1]!.length, 0, 'VLAN 20 access port does not see VLAN 10');
  assert.equal(rx[3]!.length, 1);
  assert.equal(hasVlanTag(rx[3]![0]!), false);
  const onTrunk = parseEthernet(rx[2]![0]!)!;
  assert.equal(onTrunk.vlan?.vid, 10, 'tagged with 10 on the trunk');
  send(1, testFrame(BCAST, B));
  assert.equal(hasVlanTag(rx[2]![1]!), false, 'native VLAN 20 leaves the trunk untagged');
  // Tagged VLAN 10 from the trunk reaches the VLAN 10 access ports untagged.
  send(2, pushVlan(testFrame(A, C), 10));
  assert.equal(rx[0]!.length, 1);
  assert.equal(hasVlanTag(rx[0]![0]!), false);
  // A VLAN the trunk does not allow is dropped and counted.
  const { ports, send: send2 } = rig([{ mode: 'trunk', allowed: [10] }, access1]);
  send2(0, pushVlan(testFrame(BCAST, A), 30));
  send2(0, testFrame(BCAST, A)); // untagged, no native VLAN
  assert.equal(ports[0]!.counters.rxDropped, 2);
  // A tagged frame on an access port of another VLAN is dropped.
  const r3 = rig([access1, access1]);
  r3.send(0, pushVlan(testFrame(BCAST, A), 5));
  assert.equal(r3.ports[0]!.counters.rxDropped, 1);
  assert.equal(r3.rx[1]!.length, 0);
});

test('runts, oversized and multicast-source frames are counted as errors and dropped', () => {
  const { rx, ports, send } = rig([access1, access1]);
  send(0, new Uint8Array(10));
  send(0, testFrame(B, A, 1515));
  send(0, testFrame(B, 0x010000000001));
  send(0, pushVlan(testFrame(B, A, 1514), 1)); // 1518 tagged: fine
  const c = ports[0]!.counters;
  assert.equal(c.rxErrors, 3);
  assert.equal(c.rxRunts, 1);
  assert.equal(c.rxOversize, 1);
  assert.equal(c.rxPackets, 1);
  assert.equal(rx[1]!.length, 1);
});

test('per-port counters count both directions; a sink that refuses counts tx drops', () => {
  const sw = new VirtualSwitch({ name: 'c' });
  const p1 = sw.addPort({ name: 'a', sink: () => true });
  const p2 = sw.addPort({ name: 'b', sink: () => false });
  p1.receive(testFrame(BCAST, A, 100));
  sw.flush();
  assert.equal(p1.counters.rxPackets, 1);
  assert.equal(p1.counters.rxBytes, 100);
  assert.equal(p2.counters.txDropped, 1);
  assert.equal(p2.counters.txPackets, 0);
});

test('a token-bucket rate limit drops the excess on ingress', () => {
  let now = 0;
  const sw = new VirtualSwitch({ name: 'rl' });
  const out: Uint8Array[] = [];
  const p1 = sw.addPort({ name: 'a', sink: () => true, rateLimit: { bytesPerSecond: 10_000, burstBytes: 2000 } });
  sw.addPort({
    name: 'b',
    sink: (f) => {
      out.push(f);
      return true;
    },
  });
  // Deterministic clock for the bucket.
  p1.limiter = new (p1.limiter!.constructor as typeof import('./token-bucket.js').TokenBucket)({
    bytesPerSecond: 10_000,
    burstBytes: 2000,
    now: () => now,
  });
  for (let i = 0; i < 10; i++) p1.receive(testFrame(BCAST, A, 1000));
  sw.flush();
  assert.equal(out.length, 2, 'burst of 2000 bytes');
  assert.equal(p1.counters.rxDropped, 8);
  now = 500; // half a second: 5000 more bytes
  for (let i = 0; i < 10; i++) p1.receive(testFrame(BCAST, A, 1000));
  sw.flush();
  assert.equal(out.length, 4, 'refill capped at the burst size');
});

test('a flooding port cannot starve another: queues are bounded and drained round-robin', async () => {
  const sw = new VirtualSwitch({ name: 'fair', quantum: 8 });
  const order: number[] = [];
  const flood = sw.addPort({ name: 'flood', sink: () => true, queueFrames: 64 });
  const quiet = sw.addPort({ name: 'quiet', sink: () => true, queueFrames: 64 });
  sw.addPort({
    name: 'sink',
    sink: (f) => {
      order.push(f[20]!);
      return true;
    },
  });
  for (let i = 0; i < 1000; i++) flood.receive(testFrame(BCAST, A, 64, 0x88b5, 1));
  for (let i = 0; i < 4; i++) quiet.receive(testFrame(BCAST, B, 64, 0x88b5, 2));
  assert.equal(flood.counters.rxDropped, 1000 - 64, 'ingress queue bounded at 64 frames');
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  const firstQuiet = order.indexOf(2);
  assert.ok(firstQuiet >= 0 && firstQuiet <= 8, `quiet port served within one quantum (at ${firstQuiet})`);
  assert.equal(order.filter((x) => x === 2).length, 4);
});

test('captures a port to a pcap file readable by our reader and by tcpdump/tshark', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-pcap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { sw, send } = rig([access1, access1]);
  const path = join(dir, 'p1.pcap');
  const cap = sw.capture(1, path);
  send(0, testFrame(BCAST, A, 60, 0x0806));
  send(1, testFrame(A, B, 70));
  await cap.close();
  const { linktype, frames } = readPcap(new Uint8Array(readFileSync(path)));
  assert.equal(linktype, 1);
  assert.deepEqual(
    frames.map((f) => f.length),
    [60, 70],
    'one frame in, one out',
  );
  const tshark = spawnSync('tshark', ['-r', path, '-T', 'fields', '-e', 'eth.src', '-e', 'frame.len'], {
    encoding: 'utf8',
  });
  if (tshark.status === 0) {
    assert.deepEqual(tshark.stdout.trim().split('\n'), ['02:00:00:00:00:01\t60', '02:00:00:00:00:02\t70']);
  } else {
    const td = spawnSync('tcpdump', ['-r', path, '-n', '-e'], { encoding: 'utf8' });
    if (td.status === 0) assert.equal(td.stdout.trim().split('\n').length, 2);
    else t.diagnostic('neither tshark nor tcpdump: checked with our reader only');
  }
});

test('ports: unique names, removal forgets learned MACs, events are emitted', () => {
  const sw = new VirtualSwitch({ name: 'ev' });
  const events: string[] = [];
  sw.onPortEvent((e) => events.push(`${e.reason}:${e.port.name}`));
  const a = sw.addPort({ name: 'a', sink: () => true });
  assert.throws(() => sw.addPort({ name: 'a', sink: () => true }), /already has a port named a/);
  a.receive(testFrame(BCAST, A));
  sw.flush();
  assert.equal(sw.macs.lookup(1, A), a.no);
  sw.setPortUp(a.no, false);
  sw.removePort(a.no);
  assert.equal(sw.macs.lookup(1, A), undefined);
  assert.deepEqual(events, ['add:a', 'modify:a', 'delete:a']);
});
