import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StrataError } from '../../base/errors.js';
import { attachNetwork, checkNetworks, serveNetwork } from './network-host.js';
import {
  connectSwitchEndpoint,
  encodeRecord,
  RecordReader,
  requestDialledPort,
  SwitchEndpointServer,
} from './switch-endpoint.js';
import { testFrame } from './test-frames.js';
import { VirtualSwitch } from './virtual-switch.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'strata-net-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Runs ES module code in a separate Node process (with tsx), returning its stdout. */
function child(code: string, timeoutMs = 15000): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: root });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill(), timeoutMs);
    p.on('close', (rc) => {
      clearTimeout(timer);
      if (rc === 0) resolve(out);
      else reject(new Error(`child exited ${rc}: ${err}`));
    });
  });
}

test('RecordReader splits length-prefixed records across chunk boundaries and refuses oversized ones', () => {
  const r = new RecordReader();
  const a = encodeRecord(new Uint8Array([1, 2, 3]));
  const b = encodeRecord(new Uint8Array(1000).fill(9));
  const all = new Uint8Array([...a, ...b]);
  assert.deepEqual(r.push(all.subarray(0, 2)), []);
  const got = [...r.push(all.subarray(2, 500)), ...r.push(all.subarray(500))];
  assert.deepEqual(
    got.map((x) => x.length),
    [3, 1000],
  );
  assert.throws(() => new RecordReader().push(new Uint8Array([0, 1, 0, 0])), /exceeds/);
});

test('guests in two other processes share a network served by this one', async (t) => {
  const runDir = tmp(t);
  const host = await serveNetwork({ name: 'xproc', subnet: '10.9.0.1/24' }, { runDir, dnsUpstream: null });
  t.after(() => host.close());
  const mod = (p: string) => pathToFileURL(join(here, p)).href;
  const common = `
    const { attachNetwork } = await import(${JSON.stringify(mod('network-host.ts'))});
    const { testFrame, arpFrame, ip } = await import(${JSON.stringify(mod('test-frames.ts'))});
    const { readMac } = await import(${JSON.stringify(mod('ethernet.ts'))});
    const run = ${JSON.stringify(runDir)};
  `;
  const vm2 = child(`${common}
    const nic = await attachNetwork(run, 'xproc', 'vm2');
    nic.setReceiver((f) => {
      if (f[12] === 0x88 && f[13] === 0xb5 && readMac(f, 6) === 0x020000000001) {
        const reply = testFrame(0x020000000001, 0x020000000002, 80, 0x88b5, 0x42);
        nic.send(reply);
        console.log('vm2 replied');
        setTimeout(() => process.exit(0), 200);
      }
      return true;
    });
    setTimeout(() => process.exit(3), 10000);
  `);
  const vm1 = child(`${common}
    const nic = await attachNetwork(run, 'xproc', 'vm1');
    let gotReply = false, gotArp = false;
    nic.setReceiver((f) => {
      if (f[12] === 0x88 && f[13] === 0xb5 && f[20] === 0x42) gotReply = true;
      if (f[12] === 0x08 && f[13] === 0x06 && f[21] === 2) gotArp = true;
      if (gotReply && gotArp) { console.log('vm1 got reply and arp'); process.exit(0); }
      return true;
    });
    const tick = setInterval(() => {
      nic.send(testFrame(0xffffffffffff, 0x020000000001, 64, 0x88b5, 1));
      nic.send(arpFrame(1, 0x020000000001, ip('10.9.0.50'), 0, ip('10.9.0.1')));
    }, 50);
    setTimeout(() => process.exit(3), 10000);
  `);
  const [o1, o2] = await Promise.all([vm1, vm2]);
  assert.match(o1, /vm1 got reply and arp/);
  assert.match(o2, /vm2 replied/);
  const ports = host.sw.ports().map((p) => p.name);
  assert.ok(ports.includes('router'));
  // Detached clients' ports are gone.
  for (let i = 0; i < 50 && host.sw.ports().length > 1; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(
    host.sw.ports().map((p) => p.name),
    ['router'],
  );
});

test('unknown network, overlapping subnets, live and stale sockets give clear errors', async (t) => {
  const runDir = tmp(t);
  await assert.rejects(
    attachNetwork(runDir, 'nope', 'vm'),
    (e: unknown) => e instanceof StrataError && e.code === 'NOT_FOUND' && /unknown network nope/.test(e.message),
  );
  await assert.rejects(attachNetwork(runDir, 'nope', 'vm', ['a', 'b']), /unknown network 'nope' \(known: a, b\)/);
  assert.throws(
    () =>
      checkNetworks([
        { name: 'a', subnet: '10.0.0.1/16' },
        { name: 'b', subnet: '10.0.5.1/24' },
      ]),
    (e: unknown) =>
      e instanceof StrataError && e.code === 'CONFLICT' && /overlaps 10\.0\.0\.1\/16 of network 'a'/.test(e.message),
  );
  assert.throws(() => checkNetworks([{ name: 'bad name' }]), /bad network name/);
  const h = await serveNetwork({ name: 'one' }, { runDir, dnsUpstream: null });
  await assert.rejects(serveNetwork({ name: 'one' }, { runDir, dnsUpstream: null }), /already served/);
  await h.close();
  writeFileSync(join(runDir, 'net-two.sock'), ''); // stale leftover
  const h2 = await serveNetwork({ name: 'two' }, { runDir, dnsUpstream: null });
  await h2.close();
});

test('a peer that stops reading cannot grow the switch process memory: frames to it are dropped and counted', async (t) => {
  const dir = tmp(t);
  const sw = new VirtualSwitch({ name: 'bp' });
  const ep = await SwitchEndpointServer.listen(join(dir, 's.sock'), sw, { network: 'bp', maxQueuedBytes: 256 * 1024 });
  t.after(() => ep.close());
  const slow = await connectSwitchEndpoint(join(dir, 's.sock'), { network: 'bp', name: 'slow' });
  t.after(() => slow.close());
  slow.setReceiver(() => false); // the guest never has a buffer: the client pauses its socket
  const src = sw.addPort({ name: 'src', sink: () => true });
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 200; i++) src.receive(testFrame(0xffffffffffff, 0x020000000009, 1500));
    sw.flush();
    await new Promise((r) => setImmediate(r));
  }
  const port = sw.portByName('slow')!;
  assert.ok(port.counters.txDropped > 0, 'drops counted on the switch side');
  assert.ok(port.counters.txBytes < 16 * 1024 * 1024, `bounded: ${port.counters.txBytes} bytes sent`);
  assert.ok(slow.receiveDropped > 0 || port.counters.txDropped > 0);
});

test('an oversized record closes the connection and removes its port', async (t) => {
  const dir = tmp(t);
  const sw = new VirtualSwitch({ name: 'ov' });
  const path = join(dir, 's.sock');
  const ep = await SwitchEndpointServer.listen(path, sw, { network: 'ov' });
  t.after(() => ep.close());
  const s = createConnection(path);
  await new Promise((r) => s.once('connect', r));
  s.resume(); // read (and discard) the hello answer so that the close is seen
  s.write(encodeRecord(new TextEncoder().encode(JSON.stringify({ strata: 1, name: 'evil' }))));
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(sw.portByName('evil'));
  const closed = new Promise((r) => s.once('close', r));
  s.write(new Uint8Array([0x7f, 0xff, 0xff, 0xff]));
  await closed;
  for (let i = 0; i < 50 && sw.portByName('evil'); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(sw.portByName('evil'), undefined);
});

test('a dialled port carries bare records to a listening peer, lives on after the asker leaves, and ends with it', async (t) => {
  const dir = tmp(t);
  const sw = new VirtualSwitch({ name: 'dl' });
  const path = join(dir, 's.sock');
  const ep = await SwitchEndpointServer.listen(path, sw, { network: 'dl' });
  t.after(() => ep.close());
  // The listening peer stands in for QEMU's `-netdev stream,server=on`: no hello, only records.
  const peerPath = join(dir, 'nic0.sock');
  const received: Uint8Array[] = [];
  let peerSock: import('node:net').Socket | undefined;
  const peerServer = createServer((s) => {
    peerSock = s;
    const reader = new RecordReader();
    s.on('data', (c: Buffer) => received.push(...reader.push(c)));
  });
  await new Promise<void>((r) => peerServer.listen(peerPath, r));
  t.after(() => peerServer.close());
  const answer = await requestDialledPort(path, { network: 'dl', name: 'qvm', dial: peerPath });
  assert.equal(answer.name, 'qvm');
  const port = sw.portByName('qvm');
  assert.ok(port, 'the port exists once the answer came');
  for (let i = 0; i < 100 && ep.connections > 1; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(ep.connections, 1, 'the asker has gone; the dialled connection remains');

  const other = await connectSwitchEndpoint(path, { network: 'dl', name: 'other' });
  t.after(() => other.close());
  const got: Uint8Array[] = [];
  other.setReceiver((f) => {
    got.push(f);
    return true;
  });
  peerSock!.write(encodeRecord(testFrame(0xffffffffffff, 0x020000000011, 80, 0x88b5, 7)));
  for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(got[0]?.[20], 7, 'a frame from the dialled peer reaches another port');
  other.send(testFrame(0x020000000011, 0x020000000022, 90, 0x88b5, 9));
  for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(received[0]?.length, 90, 'a frame to the dialled peer arrives as one bare record');

  peerSock!.destroy();
  for (let i = 0; i < 100 && sw.portByName('qvm'); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(sw.portByName('qvm'), undefined, 'the port ends with its connection');

  await assert.rejects(
    requestDialledPort(path, { network: 'dl', name: 'bad', dial: join(dir, 'nothing.sock') }),
    (e: unknown) =>
      e instanceof StrataError && /refused the attachment: cannot connect to .*nothing\.sock/.test(e.message),
  );
  await assert.rejects(
    requestDialledPort(path, { network: 'dl', name: 'bad', dial: 'relative.sock' }),
    /absolute Unix socket path/,
  );
  assert.equal(sw.portByName('bad'), undefined, 'a failed dial leaves no port');
});

test('only the owner may connect to the endpoint, and a dial goes only to a socket of the same owner', async (t) => {
  const dir = tmp(t);
  const sw = new VirtualSwitch({ name: 'perm' });
  const path = join(dir, 's.sock');
  const ep = await SwitchEndpointServer.listen(path, sw, { network: 'perm' });
  t.after(() => ep.close());
  // A dial makes the switch's process connect somewhere: the endpoint is as private as the process itself.
  assert.equal((statSync(path).mode & 0o777).toString(8), '600');
  const notSocket = join(dir, 'plain-file');
  writeFileSync(notSocket, '');
  await assert.rejects(
    requestDialledPort(path, { network: 'perm', name: 'bad', dial: notSocket }),
    /refused the attachment: dial needs a Unix socket: .*plain-file is not one/,
  );
  const foreign = join(dir, 'foreign.sock');
  const server = createServer(() => {});
  await new Promise<void>((r) => server.listen(foreign, r));
  t.after(() => server.close());
  if (process.getuid?.() === 0) {
    chownSync(foreign, 65534, 65534);
    await assert.rejects(
      requestDialledPort(path, { network: 'perm', name: 'bad', dial: foreign }),
      /refused the attachment: .*foreign\.sock belongs to uid 65534, not to this network's user \(uid 0\)/,
    );
  }
  assert.equal(sw.portByName('bad'), undefined, 'a refused dial leaves no port');
});

test('a dial the switch refuses after connecting (a bad VLAN) closes the dialled connection', async (t) => {
  const dir = tmp(t);
  const sw = new VirtualSwitch({ name: 'dv' });
  const path = join(dir, 's.sock');
  const ep = await SwitchEndpointServer.listen(path, sw, { network: 'dv' });
  t.after(() => ep.close());
  const peerPath = join(dir, 'nic0.sock');
  let closedByServer: Promise<void> | undefined;
  const peerServer = createServer((s) => {
    closedByServer = new Promise((r) => s.once('close', () => r()));
    s.resume();
  });
  await new Promise<void>((r) => peerServer.listen(peerPath, r));
  t.after(() => peerServer.close());
  await assert.rejects(
    requestDialledPort(path, { network: 'dv', name: 'badvlan', dial: peerPath, vlan: { mode: 'access', vlan: 9999 } }),
    /refused the attachment: VLAN id out of range 1\.\.4094: 9999/,
  );
  assert.ok(closedByServer, 'the switch had connected');
  await closedByServer;
  for (let i = 0; i < 100 && ep.connections > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(ep.connections, 0, 'no connection is left');
  assert.equal(sw.portByName('badvlan'), undefined);
});
