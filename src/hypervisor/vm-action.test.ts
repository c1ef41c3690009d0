import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planAction, VM_ACTION_KINDS, VM_STATES, type VmAction, type VmState } from './vm-action.js';

function allowed(state: VmState, action: VmAction): boolean {
  try {
    planAction('vm1', state, action);
    return true;
  } catch (err) {
    assert.equal((err as { code: string }).code, 'CONFLICT');
    assert.match((err as Error).message, /vm1/);
    return false;
  }
}

test('start from stopped or failed, never while running', () => {
  assert.deepEqual(planAction('a', 'stopped', { kind: 'start' }), {
    during: 'starting',
    after: 'running',
    needsVmm: false,
  });
  assert.ok(allowed('failed', { kind: 'start' }));
  assert.ok(!allowed('running', { kind: 'start' }));
  assert.ok(!allowed('paused', { kind: 'start' }));
});

test('pause only when running, resume only when paused', () => {
  assert.ok(allowed('running', { kind: 'pause' }));
  assert.ok(!allowed('paused', { kind: 'pause' }));
  assert.ok(allowed('paused', { kind: 'resume' }));
  assert.ok(!allowed('running', { kind: 'resume' }));
});

test('delete of a running instance needs force', () => {
  assert.ok(!allowed('running', { kind: 'delete', force: false }));
  assert.ok(allowed('running', { kind: 'delete', force: true }));
  assert.ok(allowed('stopped', { kind: 'delete', force: false }));
});

test('a transition refuses everything but a forced stop or delete', () => {
  for (const state of ['starting', 'stopping'] as const) {
    for (const kind of VM_ACTION_KINDS) {
      const action = { kind, force: false } as VmAction;
      assert.ok(!allowed(state, action), `${kind} in ${state}`);
    }
    assert.ok(allowed(state, { kind: 'stop', force: true }));
    assert.ok(allowed(state, { kind: 'delete', force: true }));
  }
});

test('every state and action has an answer (no exception other than CONFLICT)', () => {
  for (const state of VM_STATES) for (const kind of VM_ACTION_KINDS) allowed(state, { kind, force: true } as VmAction);
});
