import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EventLog } from './event-log.js';
import { OperationManager } from './operations.js';
import { StateStore } from './state-store.js';

function setup() {
  const store = new StateStore(join(mkdtempSync(join(tmpdir(), 'ops-')), 'state.db'));
  const events = new EventLog(store);
  return { store, events, ops: new OperationManager(store, events) };
}

test('an operation runs detached from its caller, reports progress, and ends in the store and the event log', async () => {
  const { store, events, ops } = setup();
  let release = () => {};
  const op = ops.run('image.pull', '/1.0/images/x', async (ctx) => {
    ctx.progress.phase('downloading', 100);
    ctx.progress.update(40);
    await new Promise<void>((r) => {
      release = r;
    });
  });
  assert.equal(op.status, 'running');
  assert.deepEqual(ops.get(op.id).progress, { phase: 'downloading', doneBytes: 40, totalBytes: 100 });
  const early = await ops.wait(op.id, 20);
  assert.equal(early.status, 'running', 'a wait that times out returns the operation still running');
  release();
  assert.equal((await ops.wait(op.id, 5000)).status, 'success');
  assert.equal(store.listOperations()[0]?.status, 'success');
  const statuses = events.after(0).map((e) => (e.data as { status: string }).status);
  assert.deepEqual(statuses, ['running', 'success']);
});

test('cancel aborts the job signal; a waiter that goes away does not affect the operation', async () => {
  const { ops } = setup();
  const op = ops.run('instance.start', '/1.0/instances/a', async (ctx) => {
    await new Promise<void>((_r, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
  });
  const gone = new AbortController();
  const waiting = ops.wait(op.id, 60_000, gone.signal);
  gone.abort();
  assert.equal((await waiting).status, 'running');
  ops.cancel(op.id);
  const done = await ops.wait(op.id, 5000);
  assert.equal(done.status, 'cancelled');
  assert.equal(done.errorCode, 'ABORTED');
  assert.throws(() => ops.cancel(op.id), /nothing to cancel/);
  assert.throws(() => ops.get('nope'), /no operation/);
});

test('operations left running by a previous daemon are marked failed on start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ops-'));
  const store = new StateStore(join(dir, 'state.db'));
  const ops = new OperationManager(store, new EventLog(store));
  ops.run('instance.start', '/1.0/instances/a', () => new Promise(() => {}));
  store.close();
  const again = new StateStore(join(dir, 'state.db'));
  const ops2 = new OperationManager(again, new EventLog(again));
  const [row] = ops2.list();
  assert.equal(row?.status, 'failure');
  assert.match(row?.errorMessage ?? '', /daemon restarted/);
});

test('progress goes to live subscribers at most 4 times a second, is never kept, and stops when the job ends', async () => {
  const { events, ops } = setup();
  const live: { transient?: boolean; data: { progress?: { doneBytes: number } } }[] = [];
  events.subscribe(undefined, (e) => live.push(e as (typeof live)[number]));
  let release = () => {};
  const op = ops.run('volume.copy', '/1.0/storage-pools/p/volumes/v', async (ctx) => {
    ctx.progress.phase('copying', 1000);
    for (let i = 1; i <= 100; i++) ctx.progress.update(i);
    await new Promise((r) => setTimeout(r, 300));
    ctx.progress.update(500);
    await new Promise<void>((r) => {
      release = r;
    });
  });
  await new Promise((r) => setTimeout(r, 600));
  const progress = live.filter((e) => e.transient).map((e) => e.data.progress?.doneBytes);
  // The phase goes out at once; the 100 updates of the same instant are folded into one, 250 ms later.
  assert.deepEqual(progress, [0, 100, 500]);
  release();
  await ops.wait(op.id, 5000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(live.filter((e) => e.transient).length, 3, 'nothing after the end');
  assert.deepEqual(
    events.after(0).map((e) => (e.data as { status: string }).status),
    ['running', 'success'],
    'the kept log has no progress events',
  );
});
