import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { hartCsrSuite } from './hart-csr.suite.js';
import { hartIsaSuite } from './hart-isa.suite.js';
import { StopReason } from './hart-port.js';
import { hartPrivSuite } from './hart-priv.suite.js';
import { assemble, type HartFactory, makeHart, RAM_BASE, TOHOST } from './hart-test-kit.suite.js';
import { WasmHart } from './wasm-hart.js';

const wasmModule = new WebAssembly.Module(readFileSync(new URL('../../../build/hart.wasm', import.meta.url)));
const factory: HartFactory = (opts) => WasmHart.create(wasmModule, opts);

hartIsaSuite(factory);
hartPrivSuite(factory);
hartCsrSuite(factory);

test('benchmark: integer loop MIPS (printed, not asserted)', () => {
  const iterations = 20_000_000;
  const hart = makeHart(factory);
  hart.ram.set(
    assemble(`
    li a0, 0
    li a1, ${iterations}
    li s0, 0x80020000
1:  addi a0, a0, 1
    add a2, a2, a0
    xor a3, a3, a2
    slli a4, a3, 1
    sd a4, 0(s0)
    ld a5, 0(s0)
    bne a0, a1, 1b
    EXIT
  `),
    0,
  );
  hart.reset(RAM_BASE);
  hart.setHtif(TOHOST);
  const t0 = performance.now();
  let stop = StopReason.Budget;
  while (stop === StopReason.Budget) stop = hart.run(10_000_000);
  const ms = performance.now() - t0;
  assert.equal(stop, StopReason.Htif);
  const mips = hart.instret() / ms / 1000;
  process.stdout.write(
    `# hart benchmark: ${hart.instret()} instructions in ${ms.toFixed(1)} ms = ${mips.toFixed(0)} MIPS\n`,
  );
});
