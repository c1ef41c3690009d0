// Tests of the F/D execute unit (assembly/fpu.ts), compiled on its own with asc into a temporary directory and
// driven through `fpExecute`. Expected results come from hand-computed vectors and from an exact oracle in
// this file: IEEE 754 rounding of rationals with BigInt (fine in a test, never in the hart).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FpRandom } from '../testing/fp-vectors.js';
import {
  BOX,
  boxed,
  DZ,
  decode,
  FD,
  type Fmt,
  FS,
  NV,
  NX,
  OF,
  RDN,
  type Res,
  RMM,
  RNE,
  RTZ,
  RUP,
  refAdd,
  refClass,
  refCompare,
  refConvert,
  refDiv,
  refFma,
  refFromInt,
  refMinMax,
  refMul,
  refSignInject,
  refSqrt,
  refToInt,
  roundDy,
  UF,
  unbox,
  type Val,
} from '../testing/ieee754-reference.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');

interface FpuExports {
  fpExecute(insn: number): number;
  getF(i: number): bigint;
  setF(i: number, v: bigint): void;
  getX(i: number): bigint;
  setX(i: number, v: bigint): void;
  setFrm(v: number): void;
  setFflags(v: number): void;
  fflags: WebAssembly.Global;
}

let fpu: FpuExports;
let tmp = '';

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'strata-fpu-'));
  const out = join(tmp, 'fpu.wasm');
  const asm = join(root, 'src/machine/cpu/assembly');
  const r = spawnSync(
    join(root, 'node_modules/.bin/asc'),
    [
      join(asm, 'fpu.ts'),
      join(asm, 'state.ts'),
      '--outFile',
      out,
      '-O3',
      '--runtime',
      'stub',
      '--importMemory',
      '--initialMemory',
      '256',
      '--noAssert',
    ],
    { cwd: root, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `asc failed: ${r.stderr}`);
  const memory = new WebAssembly.Memory({ initial: 256 });
  const mod = new WebAssembly.Module(readFileSync(out));
  const inst = new WebAssembly.Instance(mod, { env: { memory, abort: () => assert.fail('abort') } });
  fpu = inst.exports as unknown as FpuExports;
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---- encodings -------------------------------------------------------------------------------------------

const DYN = 7;
const M64 = (1n << 64n) - 1n;

const opfp = (funct7: number, rs2: number, rs1: number, rm: number, rd: number) =>
  ((funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | 0x53) >>> 0;
const r4 = (opcode: number, rs3: number, fmt: number, rs2: number, rs1: number, rm: number, rd: number) =>
  ((rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | opcode) >>> 0;

/** Runs one instruction with f1..f3 / x1 preset; returns the return code, rd (f or x) and the flags raised. */
function exec(insn: number, f: bigint[], x1 = 0n, frm = 0, xDest = false): { rc: number; v: bigint; flags: number } {
  f.forEach((v, i) => {
    fpu.setF(i + 1, v & M64);
  });
  fpu.setX(1, x1 & M64);
  fpu.setF(10, 0x1234n);
  fpu.setX(10, 0x1234n);
  fpu.setFrm(frm);
  fpu.setFflags(0);
  const rc = fpu.fpExecute(insn);
  const v = BigInt.asUintN(64, xDest ? fpu.getX(10) : fpu.getF(10));
  return { rc, v, flags: fpu.fflags.value as number };
}

// ---- random cases --------------------------------------------------------------------------------------------

const rng = new FpRandom(0x9e3779b9);
const rnd32 = () => rng.u32();
const rndBig = (bits: number) => rng.big(bits);
const pick = <T>(xs: readonly T[]): T => rng.pick(xs);
const operand = (f: Fmt, near?: bigint) => rng.operand(f, near);

/**
 * Runs `n` random cases of `one`; fails on the first mismatches, and when some flag in `mustSee` (NV DZ OF UF
 * NX, as flag bits) never occurred, so that the random operands are known to reach the interesting corners.
 */
function check(
  name: string,
  n: number,
  mustSee: number,
  one: () => { got: Res & { rc: number }; want: Res; what: string },
): void {
  const fails: string[] = [];
  let seen = 0;
  for (let i = 0; i < n && fails.length < 8; i++) {
    const { got, want, what } = one();
    seen |= want.flags;
    if (got.rc !== 0 || got.bits !== want.bits || got.flags !== want.flags)
      fails.push(
        `${what}: got rc=${got.rc} ${got.bits.toString(16)} flags=${got.flags} want ${want.bits.toString(16)} flags=${want.flags}`,
      );
  }
  assert.deepEqual(fails, [], `${name} mismatches`);
  assert.equal(seen & mustSee, mustSee, `${name}: random cases never raised flags ${mustSee & ~seen}`);
}

const hex = (v: bigint) => `0x${v.toString(16)}`;
const FMTS: [string, Fmt, number][] = [
  ['S', FS, 0],
  ['D', FD, 1],
];
const RMS = [RNE, RTZ, RDN, RUP, RMM];
const N = Number(process.env.FPU_TEST_CASES ?? 4000);

// ---- randomized comparisons with the oracle ----------------------------------------------------------------

describe('fpu: arithmetic against an exact oracle', () => {
  for (const [fn, f, fmt] of FMTS) {
    const ops: [string, number, number, (a: Val, b: Val, rm: number) => Res][] = [
      ['FADD', 0, NV | OF | NX, (a, b, rm) => refAdd(a, b, f, rm)],
      ['FSUB', 1, NV | OF | NX, (a, b, rm) => refAdd(a, { ...b, sign: b.sign ^ 1 }, f, rm)],
      ['FMUL', 2, NV | OF | UF | NX, (a, b, rm) => refMul(a, b, f, rm)],
      ['FDIV', 3, NV | DZ | OF | UF | NX, (a, b, rm) => refDiv(a, b, f, rm)],
    ];
    for (const [name, op, flags, oracle] of ops) {
      it(`${name}.${fn} in every rounding mode`, () => {
        check(`${name}.${fn}`, N, flags, () => {
          const a = operand(f);
          const b = operand(f, unbox(a, f));
          const rm = pick(RMS);
          const dyn = rnd32() % 4 === 0;
          const r = exec(opfp((op << 2) | fmt, 2, 1, dyn ? DYN : rm, 10), [a, b], 0n, dyn ? rm : 0);
          const want = boxed(f, oracle(decode(unbox(a, f), f), decode(unbox(b, f), f), rm));
          return { got: { rc: r.rc, bits: r.v, flags: r.flags }, want, what: `${hex(a)} ${hex(b)} rm=${rm}` };
        });
      });
    }
    it(`FSQRT.${fn} in every rounding mode`, () => {
      check(`FSQRT.${fn}`, N, NV | NX, () => {
        const a = operand(f);
        const rm = pick(RMS);
        const r = exec(opfp((0b01011 << 2) | fmt, 0, 1, rm, 10), [a]);
        const want = boxed(f, refSqrt(decode(unbox(a, f), f), f, rm));
        return { got: { rc: r.rc, bits: r.v, flags: r.flags }, want, what: `${hex(a)} rm=${rm}` };
      });
    });
    const fused: [string, number, number, number][] = [
      ['FMADD', 0x43, 0, 0],
      ['FMSUB', 0x47, 0, 1],
      ['FNMSUB', 0x4b, 1, 0],
      ['FNMADD', 0x4f, 1, 1],
    ];
    for (const [name, opc, negP, negC] of fused) {
      it(`${name}.${fn} is fused (one rounding) in every rounding mode`, () => {
        check(`${name}.${fn}`, N, NV | OF | UF | NX, () => {
          const a = operand(f);
          const b = operand(f);
          let c = operand(f, unbox(a, f));
          const va = decode(unbox(a, f), f);
          const vb = decode(unbox(b, f), f);
          if (rnd32() % 3 === 0 && va.cls === 'fin' && vb.cls === 'fin') {
            // An addend that nearly cancels the product: the hard case for a fused operation.
            const p = roundDy(va.sign ^ vb.sign ^ negP ^ negC ^ 1, va.m * vb.m, va.e + vb.e, f, RNE).bits;
            c = (p + BigInt((rnd32() % 5) - 2)) & ((1n << BigInt(f.width)) - 1n);
            if (f === FS) c |= BOX;
          }
          const rm = pick(RMS);
          const r = exec(r4(opc, 3, fmt, 2, 1, rm, 10), [a, b, c]);
          const want = boxed(f, refFma(va, vb, decode(unbox(c, f), f), negP, negC, f, rm));
          return { got: { rc: r.rc, bits: r.v, flags: r.flags }, want, what: `${hex(a)} ${hex(b)} ${hex(c)} rm=${rm}` };
        });
      });
    }
    it(`FCVT.{W,WU,L,LU}.${fn}: rounding, saturation, flags`, () => {
      check(`FCVT.int.${fn}`, N, NV | NX, () => {
        const kind = rnd32() % 4;
        const rm = pick(RMS);
        let a = operand(f);
        if (rnd32() % 2 === 0) {
          // values around the integer limits and around half-integers
          const base = pick([0, 1, 31, 32, 63, 64]);
          const x = (rnd32() & 1 ? -1 : 1) * 2 ** base * (1 + ((rnd32() % 9) - 4) * 2 ** -(f.p - 1));
          const h = (rnd32() % 64) - 32 + 0.5 * (rnd32() % 3);
          const val = rnd32() & 1 ? x : h;
          a =
            f === FD
              ? new BigUint64Array(new Float64Array([val]).buffer)[0]!
              : BigInt(new Uint32Array(new Float32Array([val]).buffer)[0]!) | BOX;
        }
        const r = exec(opfp((0b11000 << 2) | fmt, kind, 1, rm, 10), [a], 0n, 0, true);
        const want = refToInt(decode(unbox(a, f), f), kind, rm);
        return { got: { rc: r.rc, bits: r.v, flags: r.flags }, want, what: `${hex(a)} kind=${kind} rm=${rm}` };
      });
    });
    it(`FCVT.${fn}.{W,WU,L,LU}: rounding and NX`, () => {
      check(`FCVT.${fn}.int`, N, NX, () => {
        const kind = rnd32() % 4;
        const rm = pick(RMS);
        const x = rndBig(64) >> BigInt(rnd32() % 64);
        const xs = rnd32() & 1 ? BigInt.asUintN(64, -x) : x;
        const r = exec(opfp((0b11010 << 2) | fmt, kind, 1, rm, 10), [], xs);
        const want = boxed(f, refFromInt(xs, kind, f, rm));
        return { got: { rc: r.rc, bits: r.v, flags: r.flags }, want, what: `${hex(xs)} kind=${kind} rm=${rm}` };
      });
    });
  }
  for (const [fn, f, fmt] of FMTS) {
    it(`FMIN/FMAX/FEQ/FLT/FLE/FSGNJ*/FCLASS.${fn} on random operands`, () => {
      check(`misc.${fn}`, N, NV, () => {
        const a = operand(f);
        const b = rnd32() % 4 === 0 ? a : operand(f, unbox(a, f));
        const ua = unbox(a, f);
        const ub = unbox(b, f);
        const kind = rnd32() % 9;
        let want: Res;
        let insn: number;
        let toX = false;
        if (kind < 2) {
          insn = opfp((0b00101 << 2) | fmt, 2, 1, kind, 10);
          want = boxed(f, refMinMax(ua, ub, f, kind === 1));
        } else if (kind < 5) {
          insn = opfp((0b10100 << 2) | fmt, 2, 1, kind - 2, 10);
          toX = true;
          want = refCompare(ua, ub, f, kind - 2);
        } else if (kind < 8) {
          insn = opfp((0b00100 << 2) | fmt, 2, 1, kind - 5, 10);
          want = boxed(f, refSignInject(ua, ub, f, kind - 5));
        } else {
          insn = opfp((0b11100 << 2) | fmt, 0, 1, 1, 10);
          toX = true;
          want = { bits: refClass(ua, f), flags: 0 };
        }
        const r = exec(insn, [a, b], 0n, 0, toX);
        return { got: { rc: r.rc, bits: r.v, flags: r.flags }, want, what: `${hex(a)} ${hex(b)} kind=${kind}` };
      });
    });
  }
  it('FCVT.S.D and FCVT.D.S', () => {
    check('FCVT.S.D', N, NV | OF | UF | NX, () => {
      const a = rnd32() % 2 ? operand(FD) : rng.narrowish();
      const rm = pick(RMS);
      const r = exec(opfp(0b0100000, 1, 1, rm, 10), [a]);
      const want = refConvert(decode(a, FD), FS, rm);
      return { got: { rc: r.rc, bits: r.v, flags: r.flags }, want: boxed(FS, want), what: `${hex(a)} rm=${rm}` };
    });
    check('FCVT.D.S', N, NV, () => {
      const a = operand(FS);
      const r = exec(opfp(0b0100001, 0, 1, RNE, 10), [a]);
      const want = refConvert(decode(unbox(a, FS), FS), FD, RNE);
      return { got: { rc: r.rc, bits: r.v, flags: r.flags }, want, what: hex(a) };
    });
  });
});

// ---- hand-computed vectors -------------------------------------------------------------------------------

const d = (x: number) => new BigUint64Array(new Float64Array([x]).buffer)[0]!;
const s = (x: number) => BOX | BigInt(new Uint32Array(new Float32Array([x]).buffer)[0]!);
const QNAN_S = BOX | 0x7fc0_0000n;
const QNAN_D = 0x7ff8_0000_0000_0000n;
const SNAN_S = BOX | 0x7f80_0001n;
const SNAN_D = 0x7ff0_0000_0000_0001n;
const OP = { add: 0, sub: 1, mul: 2, div: 3, sgnj: 0b00100, minmax: 0b00101, cmp: 0b10100, fmvx: 0b11100 };
const f7 = (op: number, fmt: number) => (op << 2) | fmt;

describe('fpu: hand-computed vectors', () => {
  it('computes well-known double results', () => {
    assert.deepEqual(exec(opfp(f7(OP.add, 1), 2, 1, RNE, 10), [d(0.1), d(0.2)]), {
      rc: 0,
      v: d(0.30000000000000004),
      flags: NX,
    });
    assert.deepEqual(exec(opfp(f7(OP.add, 1), 2, 1, RTZ, 10), [d(0.1), d(0.2)]).v, d(0.3));
    assert.deepEqual(exec(opfp(f7(OP.div, 1), 2, 1, RNE, 10), [d(1), d(3)]).v, d(1 / 3));
    assert.deepEqual(exec(opfp(f7(OP.div, 1), 2, 1, RUP, 10), [d(1), d(3)]).v, d(1 / 3) + 1n);
    assert.deepEqual(exec(opfp(f7(OP.mul, 1), 2, 1, RNE, 10), [d(1.5), d(2)]), { rc: 0, v: d(3), flags: 0 });
    // fma(0.1, 10, -1): the double 0.1 times 10 is exactly 1 + 2^-54, so the fused result is 2^-54, exact
    // (a separate multiply would round to 1 and give 0).
    assert.deepEqual(exec(r4(0x43, 3, 1, 2, 1, RNE, 10), [d(0.1), d(10), d(-1)]), {
      rc: 0,
      v: d(5.551115123125783e-17),
      flags: 0,
    });
    assert.deepEqual(exec(opfp(f7(0b01011, 1), 0, 1, RNE, 10), [d(2)]), { rc: 0, v: d(Math.SQRT2), flags: NX });
    assert.deepEqual(exec(opfp(f7(0b01011, 1), 0, 1, RNE, 10), [d(-0)]), { rc: 0, v: d(-0), flags: 0 });
    assert.deepEqual(exec(opfp(f7(0b01011, 0), 0, 1, RNE, 10), [s(-1)]), { rc: 0, v: QNAN_S, flags: NV });
  });

  it('divides by zero with DZ, and flags invalid operations with NV and the canonical NaN', () => {
    assert.deepEqual(exec(opfp(f7(OP.div, 1), 2, 1, RNE, 10), [d(-1), d(0)]), { rc: 0, v: d(-Infinity), flags: DZ });
    assert.deepEqual(exec(opfp(f7(OP.div, 0), 2, 1, RNE, 10), [s(0), s(0)]), { rc: 0, v: QNAN_S, flags: NV });
    assert.deepEqual(exec(opfp(f7(OP.sub, 1), 2, 1, RNE, 10), [d(Infinity), d(Infinity)]), {
      rc: 0,
      v: QNAN_D,
      flags: NV,
    });
    // A quiet NaN operand propagates as the canonical NaN without NV; a signaling one raises NV.
    assert.deepEqual(exec(opfp(f7(OP.add, 1), 2, 1, RNE, 10), [0xfff8_dead_0000_0000n, d(1)]), {
      rc: 0,
      v: QNAN_D,
      flags: 0,
    });
    assert.deepEqual(exec(opfp(f7(OP.mul, 0), 2, 1, RNE, 10), [SNAN_S, s(1)]), { rc: 0, v: QNAN_S, flags: NV });
    // FMA: infinity times zero is invalid even when the addend is a quiet NaN (RISC-V §11.6).
    assert.deepEqual(exec(r4(0x43, 3, 1, 2, 1, RNE, 10), [d(Infinity), d(0), QNAN_D]), {
      rc: 0,
      v: QNAN_D,
      flags: NV,
    });
  });

  it('reads improperly NaN-boxed singles as the canonical NaN and boxes single results', () => {
    const unboxed = 0x0000_0000_3f80_0000n; // 1.0f without the box
    assert.deepEqual(exec(opfp(f7(OP.add, 0), 2, 1, RNE, 10), [unboxed, s(1)]), { rc: 0, v: QNAN_S, flags: 0 });
    assert.deepEqual(exec(opfp(f7(OP.add, 0), 2, 1, RNE, 10), [s(1), s(2)]), { rc: 0, v: s(3), flags: 0 });
    // FSGNJ.S of an unboxed operand: the canonical NaN with the sign injected.
    assert.deepEqual(exec(opfp(f7(OP.sgnj, 0), 2, 1, 1, 10), [unboxed, s(1)]).v, BOX | 0xffc0_0000n);
    // FMV.X.W sign-extends the low 32 bits whatever the box; FMV.W.X boxes.
    assert.deepEqual(
      exec(opfp(f7(OP.fmvx, 0), 0, 1, 0, 10), [0x1234_5678_bf80_0000n], 0n, 0, true).v,
      0xffff_ffff_bf80_0000n,
    );
    assert.deepEqual(
      exec(opfp(f7(OP.fmvx, 1), 0, 1, 0, 10), [0x8000_0000_0000_0001n], 0n, 0, true).v,
      0x8000_0000_0000_0001n,
    );
    assert.deepEqual(exec(opfp(f7(0b11110, 0), 0, 1, 0, 10), [], 0x1234_5678_4040_0000n).v, s(3));
    assert.deepEqual(exec(opfp(f7(0b11110, 1), 0, 1, 0, 10), [], 0xfff0_0000_0000_0001n).v, 0xfff0_0000_0000_0001n);
    // FCVT.D.S of an unboxed single: canonical double NaN, no NV (it reads as a quiet NaN).
    assert.deepEqual(exec(opfp(0b0100001, 0, 1, RNE, 10), [unboxed]), { rc: 0, v: QNAN_D, flags: 0 });
  });

  it('injects signs without touching NaN payloads', () => {
    const nanPayload = 0x7ff0_0000_dead_beefn;
    assert.equal(exec(opfp(f7(OP.sgnj, 1), 2, 1, 0, 10), [nanPayload, d(-1)]).v, nanPayload | (1n << 63n));
    assert.equal(exec(opfp(f7(OP.sgnj, 1), 2, 1, 1, 10), [d(2), d(-1)]).v, d(2));
    assert.equal(exec(opfp(f7(OP.sgnj, 1), 2, 1, 2, 10), [d(-2), d(-1)]).v, d(2));
    assert.deepEqual(exec(opfp(f7(OP.sgnj, 0), 2, 1, 2, 10), [s(-2), s(1)]), { rc: 0, v: s(-2), flags: 0 });
    assert.equal(exec(opfp(f7(OP.sgnj, 1), 2, 1, 3, 10), [d(1), d(1)]).rc, 1);
  });

  it('implements FMIN/FMAX as minimumNumber/maximumNumber', () => {
    const min = (fmt: number, a: bigint, b: bigint) => exec(opfp(f7(OP.minmax, fmt), 2, 1, 0, 10), [a, b]);
    const max = (fmt: number, a: bigint, b: bigint) => exec(opfp(f7(OP.minmax, fmt), 2, 1, 1, 10), [a, b]);
    assert.deepEqual(min(1, d(0), d(-0)), { rc: 0, v: d(-0), flags: 0 });
    assert.deepEqual(min(1, d(-0), d(0)), { rc: 0, v: d(-0), flags: 0 });
    assert.deepEqual(max(1, d(-0), d(0)), { rc: 0, v: d(0), flags: 0 });
    assert.deepEqual(max(0, s(0), s(-0)), { rc: 0, v: s(0), flags: 0 });
    assert.deepEqual(min(1, QNAN_D, d(3)), { rc: 0, v: d(3), flags: 0 });
    assert.deepEqual(max(1, d(3), SNAN_D), { rc: 0, v: d(3), flags: NV });
    assert.deepEqual(max(1, SNAN_D, QNAN_D), { rc: 0, v: QNAN_D, flags: NV });
    assert.deepEqual(min(0, 0x7fc0_1234n | BOX, 0x7fc0_0001n | BOX), { rc: 0, v: QNAN_S, flags: 0 });
    assert.deepEqual(min(0, s(-1), s(2)), { rc: 0, v: s(-1), flags: 0 });
    assert.deepEqual(max(0, s(-Infinity), s(-2)), { rc: 0, v: s(-2), flags: 0 });
    assert.deepEqual(min(0, 0x3f80_0000n, s(5)), { rc: 0, v: s(5), flags: 0 });
  });

  it('compares quietly (FEQ) and signalingly (FLT, FLE)', () => {
    const cmp = (fmt: number, rm: number, a: bigint, b: bigint) =>
      exec(opfp(f7(OP.cmp, fmt), 2, 1, rm, 10), [a, b], 0n, 0, true);
    const [LE, LT, EQ] = [0, 1, 2];
    assert.deepEqual(cmp(1, EQ, d(0), d(-0)), { rc: 0, v: 1n, flags: 0 });
    assert.deepEqual(cmp(1, LT, d(-0), d(0)), { rc: 0, v: 0n, flags: 0 });
    assert.deepEqual(cmp(1, LE, d(-0), d(0)), { rc: 0, v: 1n, flags: 0 });
    assert.deepEqual(cmp(0, LT, s(1), s(2)), { rc: 0, v: 1n, flags: 0 });
    assert.deepEqual(cmp(1, EQ, QNAN_D, d(1)), { rc: 0, v: 0n, flags: 0 });
    assert.deepEqual(cmp(1, EQ, SNAN_D, d(1)), { rc: 0, v: 0n, flags: NV });
    assert.deepEqual(cmp(1, LT, QNAN_D, d(1)), { rc: 0, v: 0n, flags: NV });
    assert.deepEqual(cmp(0, LE, s(1), QNAN_S), { rc: 0, v: 0n, flags: NV });
    assert.deepEqual(cmp(0, EQ, QNAN_S, QNAN_S), { rc: 0, v: 0n, flags: 0 });
    assert.equal(cmp(1, 3, d(1), d(1)).rc, 1);
  });

  it('classifies (FCLASS)', () => {
    const cls = (fmt: number, a: bigint) => exec(opfp(f7(OP.fmvx, fmt), 0, 1, 1, 10), [a], 0n, 0, true).v;
    const cases: [bigint, bigint, number][] = [
      [d(-Infinity), s(-Infinity), 0],
      [d(-1.5), s(-1.5), 1],
      [d(-5e-324), s(-1e-45), 2],
      [d(-0), s(-0), 3],
      [d(0), s(0), 4],
      [d(2e-310), s(1e-40), 5],
      [d(7), s(7), 6],
      [d(Infinity), s(Infinity), 7],
      [SNAN_D, SNAN_S, 8],
      [QNAN_D, QNAN_S, 9],
    ];
    for (const [dv, sv, bit] of cases) {
      assert.equal(cls(1, dv), 1n << BigInt(bit), `FCLASS.D ${hex(dv)}`);
      assert.equal(cls(0, sv), 1n << BigInt(bit), `FCLASS.S ${hex(sv)}`);
    }
    assert.equal(cls(0, 0x3f80_0000n), 1n << 9n, 'an unboxed single is a quiet NaN');
  });

  it('saturates float-to-integer conversions per the RISC-V table, sign-extending 32-bit results', () => {
    const cvt = (fmt: number, kind: number, rm: number, a: bigint) =>
      exec(opfp((0b11000 << 2) | fmt, kind, 1, rm, 10), [a], 0n, 0, true);
    const [W, WU, L, LU] = [0, 1, 2, 3];
    assert.deepEqual(cvt(1, W, RTZ, QNAN_D), { rc: 0, v: 0x7fff_ffffn, flags: NV });
    assert.deepEqual(cvt(1, W, RTZ, d(-Infinity)), { rc: 0, v: 0xffff_ffff_8000_0000n, flags: NV });
    assert.deepEqual(cvt(1, W, RTZ, d(-2147483648.9)), { rc: 0, v: 0xffff_ffff_8000_0000n, flags: NX });
    assert.deepEqual(cvt(1, W, RNE, d(2147483647.5)), { rc: 0, v: 0x7fff_ffffn, flags: NV });
    assert.deepEqual(cvt(1, WU, RTZ, d(3e9)), { rc: 0, v: 0xffff_ffff_b2d0_5e00n, flags: 0 });
    assert.deepEqual(cvt(1, WU, RTZ, QNAN_D), { rc: 0, v: M64, flags: NV });
    assert.deepEqual(cvt(1, WU, RTZ, d(-0.9)), { rc: 0, v: 0n, flags: NX });
    assert.deepEqual(cvt(1, WU, RNE, d(-0.9)), { rc: 0, v: 0n, flags: NV });
    assert.deepEqual(cvt(1, L, RNE, d(2 ** 63)), { rc: 0, v: (1n << 63n) - 1n, flags: NV });
    assert.deepEqual(cvt(1, L, RNE, d(-(2 ** 63))), { rc: 0, v: 1n << 63n, flags: 0 });
    assert.deepEqual(cvt(0, LU, RNE, s(-Infinity)), { rc: 0, v: 0n, flags: NV });
    assert.deepEqual(cvt(0, LU, RNE, SNAN_S), { rc: 0, v: M64, flags: NV });
    assert.deepEqual(cvt(1, LU, RNE, d(2 ** 64)), { rc: 0, v: M64, flags: NV });
    assert.deepEqual(cvt(1, W, RMM, d(-2.5)), { rc: 0, v: BigInt.asUintN(64, -3n), flags: NX });
    assert.deepEqual(cvt(1, W, RNE, d(-2.5)), { rc: 0, v: BigInt.asUintN(64, -2n), flags: NX });
    assert.deepEqual(cvt(1, W, RDN, d(2.5)), { rc: 0, v: 2n, flags: NX });
    assert.deepEqual(cvt(1, W, RUP, d(2.25)), { rc: 0, v: 3n, flags: NX });
    // Integer to float: W uses the low 32 bits signed, WU unsigned.
    const from = (fmt: number, kind: number, rm: number, x: bigint) =>
      exec(opfp((0b11010 << 2) | fmt, kind, 1, rm, 10), [], x);
    assert.deepEqual(from(1, 0, RNE, 0x1_ffff_ffffn), { rc: 0, v: d(-1), flags: 0 });
    assert.deepEqual(from(1, 1, RNE, 0x1_ffff_ffffn), { rc: 0, v: d(4294967295), flags: 0 });
    assert.deepEqual(from(0, 1, RNE, 0xffff_ffffn), { rc: 0, v: s(4294967296), flags: NX });
    assert.deepEqual(from(0, 1, RTZ, 0xffff_ffffn), { rc: 0, v: s(4294967040), flags: NX });
    assert.deepEqual(from(1, 3, RNE, M64), { rc: 0, v: d(2 ** 64), flags: NX });
    assert.deepEqual(from(1, 2, RNE, 1n << 63n), { rc: 0, v: d(-(2 ** 63)), flags: 0 });
  });

  it('rejects reserved rounding modes, formats and encodings as illegal instructions', () => {
    const add = (rm: number, frm = 0) => exec(opfp(f7(OP.add, 1), 2, 1, rm, 10), [d(1), d(1)], 0n, frm);
    assert.equal(add(5).rc, 1);
    assert.equal(add(6).rc, 1);
    for (const frm of [5, 6, 7]) assert.equal(add(DYN, frm).rc, 1, `frm=${frm}`);
    assert.equal(add(DYN, RUP).rc, 0);
    assert.equal(exec(opfp(f7(OP.add, 1), 2, 1, 5, 10), [d(1), d(1)]).v, 0x1234n, 'no write on an illegal instruction');
    assert.equal(exec(opfp(f7(OP.add, 2), 2, 1, RNE, 10), []).rc, 1, 'fmt H');
    assert.equal(exec(opfp(f7(OP.add, 3), 2, 1, RNE, 10), []).rc, 1, 'fmt Q');
    assert.equal(exec(r4(0x43, 3, 2, 2, 1, RNE, 10), []).rc, 1, 'FMADD.H');
    assert.equal(exec(r4(0x4f, 3, 1, 2, 1, 5, 10), []).rc, 1, 'FNMADD.D rm=5');
    assert.equal(exec(opfp(f7(0b01011, 1), 1, 1, RNE, 10), []).rc, 1, 'FSQRT with rs2 != 0');
    assert.equal(exec(opfp(0b0100000, 0, 1, RNE, 10), []).rc, 1, 'FCVT.S.S');
    assert.equal(exec(opfp(0b0100001, 2, 1, RNE, 10), []).rc, 1, 'FCVT.D.H');
    assert.equal(exec(opfp(f7(0b11000, 1), 4, 1, RNE, 10), []).rc, 1, 'FCVT with rs2=4');
    assert.equal(exec(opfp(f7(OP.fmvx, 1), 0, 1, 2, 10), []).rc, 1, 'funct3 2 of FMV.X/FCLASS');
    assert.equal(exec(opfp(f7(0b11110, 1), 0, 1, 1, 10), []).rc, 1, 'FMV.D.X with funct3 1');
    assert.equal(exec(opfp(0b1111111, 0, 1, RNE, 10), []).rc, 1, 'unused funct7');
  });

  it('marks the FP state dirty and leaves flags alone when nothing is raised', () => {
    const r = exec(opfp(f7(OP.add, 1), 2, 1, RNE, 10), [d(1), d(2)]);
    assert.deepEqual(r, { rc: 0, v: d(3), flags: 0 });
    fpu.setFflags(NX | DZ);
    fpu.setF(1, d(1));
    fpu.setF(2, d(3));
    fpu.fpExecute(opfp(f7(OP.div, 1), 2, 1, RNE, 10));
    assert.equal(fpu.fflags.value, NX | DZ, 'flags accrue');
  });
});
