import assert from 'node:assert/strict';
import { test } from 'node:test';
import { STDIN_RING_BYTES, StdinRing } from './wasi-protocol.js';

test('the stdin ring carries bytes in order across wrap-around, then end of input', () => {
  const sab = StdinRing.allocate();
  const w = new StdinRing(sab, true);
  const r = new StdinRing(sab, false);
  const into = new Uint8Array(1000);
  let expected = 0;
  for (let round = 0; round < 300; round++) {
    const chunk = new Uint8Array(777).map((_, i) => (round * 777 + i) & 0xff);
    assert.equal(w.write(chunk), 777);
    let got = 0;
    while (got < 777) {
      const n = r.read(into, false);
      assert.ok(n > 0);
      for (let i = 0; i < n; i++) assert.equal(into[i], expected++ & 0xff);
      got += n;
    }
  }
  assert.equal(w.write(new Uint8Array(STDIN_RING_BYTES + 10)), STDIN_RING_BYTES, 'a full ring takes no more');
  while (r.read(into, false) > 0) {
    // drain
  }
  w.close();
  assert.equal(r.read(into, true), 0, 'end of input does not block');
});
