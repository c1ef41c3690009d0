import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReceiveGate, SwitchPortBackend } from './port-backend.js';
import { testFrame } from './test-frames.js';
import { VirtualSwitch } from './virtual-switch.js';

const A = 0x020000000001;
const B = 0x020000000002;

test('ReceiveGate holds frames while the guest has no buffer, resumes in order, drops beyond its bound', () => {
  const gate = new ReceiveGate(3);
  const got: number[] = [];
  let room = 1;
  const pauses: boolean[] = [];
  gate.onPause = (p) => pauses.push(p);
  gate.setReceiver((f) => {
    if (room === 0) return false;
    room--;
    got.push(f[0]!);
    return true;
  });
  for (let i = 1; i <= 6; i++) gate.push(new Uint8Array([i]));
  assert.deepEqual(got, [1], 'one buffer');
  assert.equal(gate.dropped, 2, 'three held, two dropped');
  room = 2;
  gate.resume();
  assert.deepEqual(got, [1, 2, 3]);
  assert.equal(gate.isPaused, true, 'still one held');
  room = 10;
  gate.resume();
  assert.deepEqual(got, [1, 2, 3, 4]);
  assert.equal(gate.isPaused, false);
  assert.deepEqual(pauses, [true, false]);
});

test('SwitchPortBackend: a guest NIC on an in-process switch, with backpressure and link state', async () => {
  const sw = new VirtualSwitch({ name: 'nb' });
  const nic1 = new SwitchPortBackend(sw, { name: 'vm1', guestMac: A, queueFrames: 4 });
  const nic2 = new SwitchPortBackend(sw, { name: 'vm2', guestMac: B });
  const got: Uint8Array[] = [];
  let full = true;
  nic2.setReceiver((f) => {
    if (full) return false;
    got.push(f);
    return true;
  });
  assert.equal(nic1.linkUp, true);
  for (let i = 0; i < 6; i++) nic1.send(testFrame(B, A));
  assert.equal(nic1.canSend(), false, 'ingress queue of 4 is full');
  let writable = false;
  nic1.onWritable(() => {
    writable = true;
  });
  nic1.send(testFrame(B, A));
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(writable, true, 'onWritable fired once the switch drained the queue');
  assert.equal(nic1.port.counters.rxDropped, 3);
  assert.equal(got.length, 0, 'guest 2 had no buffers: frames held');
  full = false;
  nic2.resume();
  assert.equal(got.length, 4);
  await nic1.close();
  assert.equal(nic1.linkUp, false);
  assert.equal(sw.portByName('vm1'), undefined);
});
