// Random floating-point test operands and instruction vectors for the FPU tests: reproducible (seeded), biased
// towards the corners (signed zeros, subnormals, infinities, NaNs, near-cancellation, near-overflow, ties), with
// expected results from the exact reference (ieee754-reference.ts). Test use only.
import {
  BOX,
  boxed,
  canon,
  decode,
  expAll,
  FD,
  type Fmt,
  FS,
  fracBits,
  inf,
  type Res,
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
  signBit,
  unbox,
} from './ieee754-reference.js';

/** A seeded xorshift32 source of random operands. */
export class FpRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }

  /** A random unsigned 32-bit number. */
  u32(): number {
    let s = this.state;
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    this.state = s;
    return s;
  }

  /** A random non-negative BigInt of `bits` bits. */
  big(bits: number): bigint {
    let v = 0n;
    for (let i = 0; i < bits; i += 32) v = (v << 32n) | BigInt(this.u32());
    return v & ((1n << BigInt(bits)) - 1n);
  }

  /** One element of `xs`. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.u32() % xs.length]!;
  }

  private sign(f: Fmt): bigint {
    return BigInt(this.u32() & 1) << BigInt(f.width - 1);
  }

  /**
   * A random operand of format `f` as an f-register pattern: singles NaN-boxed, 1 in 64 deliberately not.
   * With `near` (an unboxed pattern), often a value close to it, to provoke cancellation and ties.
   */
  operand(f: Fmt, near?: bigint): bigint {
    const fb = fracBits(f);
    const k = this.u32() % 16;
    let v: bigint;
    if (near !== undefined && k < 5) {
      const d = BigInt((this.u32() % 7) - 3) << fb;
      v = (near + d + this.big(1 + (this.u32() % (f.p + 2)))) & (signBit(f) - 1n);
      if (v >= inf(f, 0)) v = inf(f, 0) - 1n;
      v |= this.sign(f);
    } else if (k < 8) {
      v = this.big(f.width);
    } else if (k < 10) {
      const one = BigInt(f.emax) << fb;
      const special = [0n, 1n, (1n << fb) - 1n, 1n << fb, one, one + 1n, one - 1n, one | (1n << (fb - 1n))];
      v = this.pick([...special, inf(f, 0) - 1n, inf(f, 0), canon(f), inf(f, 0) + 1n]) | this.sign(f);
    } else if (k < 12) {
      // Around 1.0, with many or few fraction bits.
      const exp = BigInt(f.emax + (this.u32() % 9) - 4);
      const frac = this.u32() & 1 ? this.big(f.p - 1) : this.big(4) << (fb - 4n);
      v = (exp << fb) | frac | this.sign(f);
    } else if (k < 13) {
      v = this.big(f.p - 1) | this.sign(f);
    } else if (k < 14) {
      // Near the bottom or the top of the exponent range.
      const exp = this.u32() & 1 ? BigInt(this.u32() % 4) : expAll(f) - 1n - BigInt(this.u32() % 4);
      v = (exp << fb) | this.big(f.p - 1) | this.sign(f);
    } else {
      v = this.big(f.width);
    }
    if (f === FD) return v;
    return this.u32() % 64 === 0 ? v | ((this.big(32) << 32n) & 0x7fff_ffff_0000_0000n) : v | BOX;
  }

  /** A double with few significant bits in or near the single range: FCVT.S.D ties, subnormals, overflow. */
  narrowish(): bigint {
    const exp = BigInt(1023 + (this.u32() % 300) - 150);
    const frac = (this.big(24) << 28n) | (this.u32() % 3 === 0 ? 1n << 28n : 0n);
    return (BigInt(this.u32() & 1) << 63n) | (exp << 52n) | (frac & ((1n << 52n) - 1n));
  }

  /** A random 64-bit integer register value of random magnitude and sign. */
  integer(): bigint {
    const x = this.big(64) >> BigInt(this.u32() % 64);
    return this.u32() & 1 ? BigInt.asUintN(64, -x) : x;
  }
}

/**
 * One instruction test in the conventions of test/isa/include/fp-macros.h: assembly lines that load the
 * operands (fa0, fa1, fa3 or a0), clear fflags, execute, and check the result (fa2 or a2) and fflags.
 */
export interface AsmVector {
  lines: string[];
  /** What is tested, for failure messages. */
  what: string;
}

const RM_NAMES = ['rne', 'rtz', 'rdn', 'rup', 'rmm'];
const INT_NAMES = ['w', 'wu', 'l', 'lu'];
const hex = (v: bigint) => `0x${BigInt.asUintN(64, v).toString(16)}`;

/** A random F/D instruction with random operands and rounding mode, and its exact expected outcome. */
export function randomAsmVector(r: FpRandom): AsmVector {
  const dbl = (r.u32() & 1) === 1;
  const f = dbl ? FD : FS;
  const sfx = dbl ? 'd' : 's';
  const rm = r.u32() % 5;
  const rmName = RM_NAMES[rm]!;
  const a = r.operand(f);
  const b = r.operand(f, unbox(a, f));
  const ua = unbox(a, f);
  const ub = unbox(b, f);
  const va = decode(ua, f);
  const vb = decode(ub, f);
  const load = [`li t0, ${hex(a)}`, 'fmv.d.x fa0, t0', `li t0, ${hex(b)}`, 'fmv.d.x fa1, t0', 'fsflags zero'];
  const what = (insn: string) => `${insn} with fa0=${hex(a)} fa1=${hex(b)}`;
  const toF = (insn: string, res: Res, single = !dbl): AsmVector => {
    const want = single ? boxed(FS, res) : res;
    return {
      lines: [...load, insn, `CHECKD fa2, ${hex(want.bits)}`, `CHECK_FFLAGS ${want.flags}`],
      what: what(insn),
    };
  };
  const toX = (insn: string, res: Res): AsmVector => ({
    lines: [...load, insn, `CHECK a2, ${hex(res.bits)}`, `CHECK_FFLAGS ${res.flags}`],
    what: what(insn),
  });
  switch (r.u32() % 13) {
    case 0:
      return toF(`fadd.${sfx} fa2, fa0, fa1, ${rmName}`, refAdd(va, vb, f, rm));
    case 1:
      return toF(`fsub.${sfx} fa2, fa0, fa1, ${rmName}`, refAdd(va, { ...vb, sign: vb.sign ^ 1 }, f, rm));
    case 2:
      return toF(`fmul.${sfx} fa2, fa0, fa1, ${rmName}`, refMul(va, vb, f, rm));
    case 3:
      return toF(`fdiv.${sfx} fa2, fa0, fa1, ${rmName}`, refDiv(va, vb, f, rm));
    case 4:
      return toF(`fsqrt.${sfx} fa2, fa0, ${rmName}`, refSqrt(va, f, rm));
    case 5: {
      const [name, negP, negC] = r.pick([
        ['fmadd', 0, 0],
        ['fmsub', 0, 1],
        ['fnmsub', 1, 0],
        ['fnmadd', 1, 1],
      ] as const);
      let c = r.operand(f, ua);
      if (r.u32() % 3 === 0 && va.cls === 'fin' && vb.cls === 'fin') {
        // An addend that nearly cancels the product.
        const p = roundDy(va.sign ^ vb.sign ^ negP ^ negC ^ 1, va.m * vb.m, va.e + vb.e, f, 0).bits;
        c = (p + BigInt((r.u32() % 5) - 2)) & ((1n << BigInt(f.width)) - 1n);
        if (!dbl) c |= BOX;
      }
      const v = toF(
        `${name}.${sfx} fa2, fa0, fa1, fa3, ${rmName}`,
        refFma(va, vb, decode(unbox(c, f), f), negP, negC, f, rm),
      );
      return { lines: [`li t0, ${hex(c)}`, 'fmv.d.x fa3, t0', ...v.lines], what: `${v.what} fa3=${hex(c)}` };
    }
    case 6: {
      const k = r.u32() % 4;
      return toX(`fcvt.${INT_NAMES[k]}.${sfx} a2, fa0, ${rmName}`, refToInt(va, k, rm));
    }
    case 7: {
      const k = r.u32() % 4;
      const x = r.integer();
      const res = refFromInt(x, k, f, rm);
      const want = dbl ? res : boxed(f, res);
      // The assembler takes no rounding mode for the exact FCVT.D.W and FCVT.D.WU.
      const insn = dbl && k < 2 ? `fcvt.d.${INT_NAMES[k]} fa2, a0` : `fcvt.${sfx}.${INT_NAMES[k]} fa2, a0, ${rmName}`;
      return {
        lines: [
          `li a0, ${hex(x)}`,
          'fsflags zero',
          insn,
          `CHECKD fa2, ${hex(want.bits)}`,
          `CHECK_FFLAGS ${want.flags}`,
        ],
        what: `${insn} with a0=${hex(x)}`,
      };
    }
    case 8:
      if (dbl) return toF(`fcvt.s.d fa2, fa0, ${rmName}`, refConvert(va, FS, rm), true);
      return toF('fcvt.d.s fa2, fa0', refConvert(va, FD, rm), false);
    case 9: {
      const max = (r.u32() & 1) === 1;
      return toF(`${max ? 'fmax' : 'fmin'}.${sfx} fa2, fa0, fa1`, refMinMax(ua, ub, f, max));
    }
    case 10: {
      const which = r.u32() % 3;
      return toX(`${['fle', 'flt', 'feq'][which]}.${sfx} a2, fa0, fa1`, refCompare(ua, ub, f, which));
    }
    case 11: {
      const which = r.u32() % 3;
      return toF(`${['fsgnj', 'fsgnjn', 'fsgnjx'][which]}.${sfx} fa2, fa0, fa1`, refSignInject(ua, ub, f, which));
    }
    default:
      return toX(`fclass.${sfx} a2, fa0`, { bits: refClass(ua, f), flags: 0 });
  }
}
