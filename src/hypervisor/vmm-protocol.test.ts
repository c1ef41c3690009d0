import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asVmmRequest, encodeVmmMessage, VMM_MAX_LINE_BYTES, VmmLineDecoder } from './vmm-protocol.js';

test('messages split across chunks come out whole and in order', () => {
  const d = new VmmLineDecoder();
  const wire = encodeVmmMessage({ id: 1, op: 'state' }) + encodeVmmMessage({ event: 'console', data: 'aGk=' });
  const out: unknown[] = [];
  for (let i = 0; i < wire.length; i += 3) out.push(...d.feed(wire.slice(i, i + 3)));
  assert.deepEqual(out, [
    { id: 1, op: 'state' },
    { event: 'console', data: 'aGk=' },
  ]);
});

test('bad lines and unknown requests are refused with a message', () => {
  assert.throws(() => new VmmLineDecoder().feed('nope\n'), /not JSON/);
  assert.throws(() => new VmmLineDecoder().feed('[1]\n'), /not an object/);
  assert.throws(() => new VmmLineDecoder().feed('x'.repeat(VMM_MAX_LINE_BYTES + 1)), /longer/);
  assert.throws(() => asVmmRequest({ id: 1, op: 'format-disk' }), /unknown VMM request op 'format-disk'/);
  assert.throws(() => asVmmRequest({ op: 'state' }), /numeric 'id'/);
  assert.throws(() => asVmmRequest({ id: 1, op: 'console.input' }), /base64/);
  assert.deepEqual(asVmmRequest({ id: 2, op: 'stop' }), { id: 2, op: 'stop', force: false });
});
