import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NetBackend } from '../machine/ports/net-backend.js';
import { RateLimitedNic } from './rate-limited-nic.js';

function loopback() {
  const sent: Uint8Array[] = [];
  let receiver: ((f: Uint8Array) => boolean) | null = null;
  let resumed = 0;
  const backend: NetBackend = {
    maxFrameBytes: 1514,
    linkUp: true,
    send: (f) => sent.push(f),
    canSend: () => true,
    onWritable: () => {},
    setReceiver: (cb) => {
      receiver = cb;
    },
    resume: () => {
      resumed++;
    },
    close: async () => {},
  };
  return { backend, sent, deliver: (f: Uint8Array) => receiver?.(f), resumed: () => resumed };
}

test('transmit is shaped: after the burst canSend is false until tokens are back', () => {
  let now = 0;
  const lb = loopback();
  const nic = new RateLimitedNic(lb.backend, 100_000, () => now);
  const frame = new Uint8Array(1500);
  let sent = 0;
  while (nic.canSend() && sent < 100) {
    nic.send(frame);
    sent++;
  }
  assert.ok(sent >= 2 && sent <= 5, `burst of ${sent} frames`);
  now += 1000;
  assert.ok(nic.canSend(), 'a second later the bucket is full again');
  assert.equal(nic.counters.txFrames, sent);
  void nic.close();
});

test('receive is shaped: an empty bucket answers no-buffer, so the provider holds the frame', () => {
  const now = 0;
  const lb = loopback();
  const nic = new RateLimitedNic(lb.backend, 10_000, () => now);
  const got: number[] = [];
  nic.setReceiver((f) => {
    got.push(f.length);
    return true;
  });
  const frame = new Uint8Array(1500);
  let accepted = 0;
  for (let i = 0; i < 10; i++) if (lb.deliver(frame)) accepted++;
  assert.ok(accepted < 10, 'some frames were held back');
  assert.equal(got.length, accepted);
  assert.equal(nic.counters.rxBytes, accepted * 1500);
  void nic.close();
});

test('rate 0 is unlimited', () => {
  const lb = loopback();
  const nic = new RateLimitedNic(lb.backend, 0);
  for (let i = 0; i < 1000; i++) {
    assert.ok(nic.canSend());
    nic.send(new Uint8Array(1500));
  }
  assert.equal(lb.sent.length, 1000);
});
