import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import type { Instance, Operation } from '../../src/api/schema/index.js';
import { DaemonClient } from '../../src/cli/client.js';
import type { Engine, EngineName } from '../../src/services/instances/engine.js';
import { startTestDaemon, tempHome, writeFakeImage } from '../helpers/daemon-harness.js';
import { FakeEngine } from '../helpers/fake-engine.js';

async function setup(engine = new FakeEngine()) {
  const home = tempHome();
  writeFakeImage(home);
  const engines = new Map<EngineName, Engine>([['builtin', engine]]);
  const daemon = await startTestDaemon(home, engines);
  const api = new DaemonClient({ baseUrl: 'http://localhost', socketPath: daemon.socket });
  return { home, engine, engines, daemon, api };
}

test('a forced stop during a slow start cancels the start; the instance ends stopped', async () => {
  const { home, engine, daemon, api } = await setup();
  try {
    engine.createDelayMs = 60_000;
    const launch = await api.call<Operation>('POST', '/1.0/instances', { name: 's1', image: 'fake', start: true });
    for (
      let i = 0;
      i < 50 && (await api.call<Instance>('GET', '/1.0/instances/s1').catch(() => undefined))?.status !== 'starting';
      i++
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await assert.rejects(
      api.call('PUT', '/1.0/instances/s1/state', { action: 'stop' }),
      /it is starting \(use --force\)/,
    );
    const stop = await api.call<Operation>('PUT', '/1.0/instances/s1/state', { action: 'stop', force: true });
    assert.equal((await api.waitOperation(stop)).status, 'success');
    await assert.rejects(api.waitOperation(launch), /stopped while it started/);
    assert.equal((await api.call<Instance>('GET', '/1.0/instances/s1')).status, 'stopped');
    assert.equal(engine.vm('s1'), undefined, 'no VM was left behind');
  } finally {
    await daemon.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('cancelling a start operation leaves the instance failed with the reason, and startable again', async () => {
  const { home, engine, daemon, api } = await setup();
  try {
    engine.createDelayMs = 60_000;
    const launch = await api.call<Operation>('POST', '/1.0/instances', { name: 'c1', image: 'fake', start: true });
    await new Promise((r) => setTimeout(r, 100));
    await api.call('DELETE', `/1.0/operations/${launch.id}`);
    const op = await api.call<Operation>('GET', `/1.0/operations/${launch.id}/wait?timeout=10`);
    assert.equal(op.status, 'cancelled');
    const inst = await api.call<Instance>('GET', '/1.0/instances/c1');
    assert.equal(inst.status, 'failed');
    assert.match(inst.statusReason ?? '', /start failed/);
    engine.createDelayMs = 0;
    const again = await api.call<Operation>('PUT', '/1.0/instances/c1/state', { action: 'start' });
    assert.equal((await api.waitOperation(again)).status, 'success');
  } finally {
    await daemon.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('a restarted daemon re-attaches to running and paused VMs and reports one that vanished', async () => {
  const { home, engine, engines, daemon, api } = await setup();
  for (const name of ['r1', 'r2', 'r3']) {
    await api.waitOperation(await api.call<Operation>('POST', '/1.0/instances', { name, image: 'fake', start: true }));
  }
  await api.waitOperation(await api.call<Operation>('PUT', '/1.0/instances/r2/state', { action: 'pause' }));
  await daemon.close();
  engine.vm('r3')?.end({ kind: 'error', reason: 'gone while away' });
  const second = await startTestDaemon(home, engines);
  try {
    const list = await api.call<Instance[]>('GET', '/1.0/instances');
    const by = new Map(list.map((i) => [i.name, i]));
    assert.equal(by.get('r1')?.status, 'running');
    assert.equal(by.get('r2')?.status, 'paused');
    assert.equal(by.get('r3')?.status, 'failed');
    const resume = await api.call<Operation>('PUT', '/1.0/instances/r2/state', { action: 'resume' });
    assert.equal((await api.waitOperation(resume)).status, 'success');
    const events = await api.call<{ data: { action?: string; name?: string } }[]>('GET', '/1.0/events?since=0');
    assert.ok(events.some((e) => e.data.action === 'instance-reattached' && e.data.name === 'r1'));
  } finally {
    await second.close();
    rmSync(home, { recursive: true, force: true });
  }
});
