// The network field of a container or sandbox create request: a container takes it (the daemon attaches its eth0),
// a sandbox is refused with a message naming the field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateWorkloadCreate } from './instance-validation.js';

test('a container takes a network, a sandbox is refused one naming the field', () => {
  const ctr = validateWorkloadCreate({ name: 'c1', image: 'busybox', type: 'container', network: 'lan' }, 'container');
  assert.equal(ctr.network, 'lan');
  const none = validateWorkloadCreate({ name: 'c2', image: 'busybox', type: 'container', network: null }, 'container');
  assert.equal(none.network, undefined);
  assert.throws(
    () =>
      validateWorkloadCreate(
        { name: 's1', image: 'm.wasm', type: 'sandbox', module: 'AGFzbQEAAAA=', network: 'lan' },
        'sandbox',
      ),
    (e: Error & { code?: string }) =>
      e.code === 'INVALID_ARGUMENT' && /network: a sandbox cannot join a network/.test(e.message),
  );
});
