import assert from 'node:assert/strict';
import { test } from 'node:test';
import { I32, op, WasmBuilder } from './wasm-encoder.js';
import { capDefinedMemories, capModule, hasWasmHeader, inspectModule, uleb128 } from './wasm-module.js';

function moduleWith(memory: { min: number; max?: number; imported?: boolean }): Uint8Array {
  const b = new WasmBuilder();
  b.importFunc('wasi_snapshot_preview1', 'proc_exit', [I32], []);
  if (memory.imported) b.importMemory('env', 'memory', memory.min, memory.max);
  else b.defineMemory(memory.min, memory.max);
  b.exportFunc('_start', b.func([], [], [], [...op.i32Const(300), ...op.memoryGrow, ...op.drop]));
  b.data(0, 'data after the memory section');
  return b.build();
}

test('uleb128', () => {
  assert.deepEqual(uleb128(0), [0]);
  assert.deepEqual(uleb128(127), [0x7f]);
  assert.deepEqual(uleb128(128), [0x80, 0x01]);
  assert.deepEqual(uleb128(65536), [0x80, 0x80, 0x04]);
});

test('inspect finds defined and imported memories with their limits', () => {
  const d = inspectModule(moduleWith({ min: 2, max: 500 }));
  assert.deepEqual(d.defined, [{ min: 2, max: 500, shared: false, is64: false }]);
  assert.deepEqual(d.imported, []);
  const i = inspectModule(moduleWith({ min: 3, imported: true }));
  assert.equal(i.imported[0]?.module, 'env');
  assert.deepEqual(i.imported[0]?.limits, { min: 3, max: undefined, shared: false, is64: false });
});

test('capping rewrites the maximum and the module stays valid; grow past the cap returns -1', () => {
  for (const mem of [{ min: 1 }, { min: 1, max: 1000 }, { min: 1, max: 4 }]) {
    const bytes = moduleWith(mem);
    const capped = capDefinedMemories(bytes, inspectModule(bytes), 16);
    assert.ok(WebAssembly.validate(new Uint8Array(capped)));
    const after = inspectModule(capped).defined[0];
    assert.equal(after?.max, Math.min(mem.max ?? Number.POSITIVE_INFINITY, 16));
    const inst = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(capped)), {
      wasi_snapshot_preview1: { proc_exit: () => undefined },
    });
    const memory = inst.exports.memory as WebAssembly.Memory;
    assert.throws(() => memory.grow(100), RangeError);
  }
});

test('malformed binaries are INVALID_ARGUMENT', () => {
  assert.equal(hasWasmHeader(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])), true);
  assert.throws(() => inspectModule(new TextEncoder().encode('hello world')), /no WebAssembly header/);
  const good = moduleWith({ min: 1 });
  assert.throws(() => inspectModule(good.subarray(0, 20)), /not a valid WebAssembly module/);
});

test('tables are capped too, and both sections can be rewritten at once', () => {
  const b = new WasmBuilder();
  b.importFunc('wasi_snapshot_preview1', 'proc_exit', [I32], []);
  b.defineTable(1);
  b.defineMemory(1, 100);
  b.exportFunc('_start', b.func([], [], [], []));
  const bytes = b.build();
  const info = inspectModule(bytes);
  assert.deepEqual(info.tables, [{ refType: 0x70, limits: { min: 1, max: undefined, shared: false, is64: false } }]);
  const capped = new Uint8Array(capModule(bytes, info, 8, 1000));
  assert.ok(WebAssembly.validate(capped));
  const again = inspectModule(capped);
  assert.equal(again.tables[0]?.limits.max, 1000);
  assert.equal(again.defined[0]?.max, 8);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(capped), {
    wasi_snapshot_preview1: { proc_exit: () => undefined },
  });
  const table = inst.exports.table as WebAssembly.Table;
  table.grow(999);
  assert.throws(() => table.grow(1), RangeError);
});
