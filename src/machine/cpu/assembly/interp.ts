// Strata hart — the interpreter loop: RV64IMAC + Zicsr + Zifencei, F/D loads and stores (the FPU executes the
// rest), M/S/U privilege.
//
// HOT-LOOP EXCEPTION (docs/architecture.md): this is the hottest code of the project. Speed outranks the usual
// style rules: one big function, no allocation, no calls on the common path, state in locals and wasm globals.
//
// Shape: run() executes chunks of at most CHUNK instructions. Interrupts and the clock are only looked at between
// chunks; anything that may change interrupt enables, privilege or translation (CSR writes, xRET, SFENCE.VMA,
// traps) ends the chunk early. Inside a chunk the fetch translation is cached while the pc stays in one page, and
// loads/stores hit the software TLB with one compare. A later JIT replaces the inner loop per hot page and keeps
// the same chunk protocol.

import { mtimeNow, timerPollNow } from './clint';
import { Cpu, CAUSE_HTIF_STOP, PRV_M, PRV_S, PRV_U, STOP_BUDGET, STOP_FAULT, STOP_HTIF, STOP_NONE, STOP_WFI } from './cpu-state';
import { csrAccess, csrIllegal } from './csr';
import { fpExecute } from './fpu';
import { RVC_TABLE } from './layout';
import { mulHiU64 } from './mul128';
import {
  ACC_READ,
  ACC_WRITE,
  atomicHost,
  EXC_BREAKPOINT,
  EXC_ECALL_U,
  EXC_ILLEGAL,
  EXC_INSN_ACCESS,
  fetchAddend,
  fetchHigh,
  loadSlow,
  raise,
  storeSlow,
  tlbEntry,
  tlbFlushAll,
} from './mmu';
import { clearFsDirty, fsDirty, getF, setF, XREG_BASE } from './state';
import {
  CAUSE_INTERRUPT,
  doMret,
  doSret,
  MSTATUS_FS,
  MSTATUS_TSR,
  MSTATUS_TVM,
  MSTATUS_TW,
  MIP_MTIP,
  pendingInterrupt,
  takeTrap,
  wfiWake,
} from './trap';

/** Maximum instructions between two interrupt checks. */
const CHUNK: i64 = 1024;

/** Fast-path tag masks: page bits plus the alignment bits of the access size. */
const TAG1: u64 = 0xffff_ffff_ffff_f000;
const TAG2: u64 = 0xffff_ffff_ffff_f001;
const TAG4: u64 = 0xffff_ffff_ffff_f003;
const TAG8: u64 = 0xffff_ffff_ffff_f007;

/** Loop control after an instruction. */
const CTL_EXC: i32 = 1; // Cpu.exc* describe an exception of the instruction at pc
const CTL_END: i32 = 2; // context changed: leave the chunk, continue at npc
const CTL_JUMPED: i32 = 3; // Cpu.pc already holds the next pc (xRET)
const CTL_WFI: i32 = 4; // stop for WFI at npc

// @ts-ignore: decorator
@inline function rx(i: u32): u64 {
  return load<u64>(XREG_BASE + ((<usize>i) << 3));
}

// @ts-ignore: decorator
@inline function wx(i: u32, v: u64): void {
  store<u64>(XREG_BASE + ((<usize>i) << 3), v);
  store<u64>(XREG_BASE, 0);
}

// @ts-ignore: decorator
@inline function sext32(v: u64): u64 {
  return <u64>(<i64>(<i32>v));
}

/** M extension multiply/divide (unprivileged spec §13.1, §13.2: division by zero and overflow do not trap). */
function mulDiv(f3: u32, a: u64, b: u64): u64 {
  switch (f3) {
    case 0:
      return a * b;
    case 1: {
      let h = mulHiU64(a, b);
      if (<i64>a < 0) h -= b;
      if (<i64>b < 0) h -= a;
      return h;
    }
    case 2: {
      let h = mulHiU64(a, b);
      if (<i64>a < 0) h -= b;
      return h;
    }
    case 3:
      return mulHiU64(a, b);
    case 4:
      if (b == 0) return 0xffff_ffff_ffff_ffff;
      if (a == 0x8000_0000_0000_0000 && b == 0xffff_ffff_ffff_ffff) return a;
      return <u64>(<i64>a / <i64>b);
    case 5:
      if (b == 0) return 0xffff_ffff_ffff_ffff;
      return a / b;
    case 6:
      if (b == 0) return a;
      if (a == 0x8000_0000_0000_0000 && b == 0xffff_ffff_ffff_ffff) return 0;
      return <u64>(<i64>a % <i64>b);
    default:
      if (b == 0) return a;
      return a % b;
  }
}

/** 32-bit M operations of OP-32 (MULW, DIVW, DIVUW, REMW, REMUW); returns the sign-extended result. */
function mulDivW(f3: u32, a64: u64, b64: u64): u64 {
  const a = <u32>a64;
  const b = <u32>b64;
  let r: u32;
  switch (f3) {
    case 0:
      r = a * b;
      break;
    case 4:
      if (b == 0) r = 0xffff_ffff;
      else if (a == 0x8000_0000 && b == 0xffff_ffff) r = a;
      else r = <u32>(<i32>a / <i32>b);
      break;
    case 5:
      r = b == 0 ? 0xffff_ffff : a / b;
      break;
    case 6:
      if (b == 0) r = a;
      else if (a == 0x8000_0000 && b == 0xffff_ffff) r = 0;
      else r = <u32>(<i32>a % <i32>b);
      break;
    default:
      r = b == 0 ? a : a % b;
      break;
  }
  return <u64>(<i64>(<i32>r));
}

/** AMO arithmetic (unprivileged spec §13.4); `w` selects 32-bit signed/unsigned comparisons. */
function amoOp(f5: u32, old: u64, src: u64, w: bool): u64 {
  switch (f5) {
    case 0x01:
      return src;
    case 0x00:
      return old + src;
    case 0x04:
      return old ^ src;
    case 0x0c:
      return old & src;
    case 0x08:
      return old | src;
    case 0x10:
      if (w) return <i32>old < <i32>src ? old : src;
      return <i64>old < <i64>src ? old : src;
    case 0x14:
      if (w) return <i32>old > <i32>src ? old : src;
      return <i64>old > <i64>src ? old : src;
    case 0x18:
      if (w) return <u32>old < <u32>src ? old : src;
      return old < src ? old : src;
    default:
      if (w) return <u32>old > <u32>src ? old : src;
      return old > src ? old : src;
  }
}

/** Whether an AMO funct5 is defined (besides LR 0x02 and SC 0x03). */
// @ts-ignore: decorator
@inline function amoValid(f5: u32): bool {
  return f5 == 0x00 || f5 == 0x01 || f5 == 0x04 || f5 == 0x08 || f5 == 0x0c || f5 >= 0x10 && (f5 & 3) == 0 && f5 <= 0x1c;
}

/** Marks the FP state dirty after an instruction that wrote f registers or fflags (§3.1.6.6). */
// @ts-ignore: decorator
@inline function foldFsDirty(): void {
  if (fsDirty) {
    Cpu.mstatus |= MSTATUS_FS;
    clearFsDirty();
  }
}

/** Number of instructions to run before the next interrupt check. */
function chunkLength(left: i64): i32 {
  let n = <i32>(left < CHUNK ? left : CHUNK);
  // Deterministic clock: end the chunk at the timer deadline so the interrupt is taken on time.
  if (Cpu.instrPerTick != 0 && (Cpu.mie & MIP_MTIP) != 0) {
    const now = mtimeNow();
    if (Cpu.mtimecmp > now) {
      const d = Cpu.mtimecmp - now;
      if (d < <u64>CHUNK) {
        const k = <i64>(d * Cpu.instrPerTick);
        if (k < <i64>n && k > 0) n = <i32>k;
      }
    }
  }
  return n;
}

/**
 * Runs up to about `budget` instructions; returns a STOP_* reason. Never traps the WebAssembly module: every
 * guest-controlled address is checked, every loop consumes budget.
 */
export function run(budget: i32): i32 {
  let left: i64 = budget;
  Cpu.stop = STOP_NONE;
  // The host may have slept until the timer deadline since the last run: read the clock at the first check.
  timerPollNow();
  while (left > 0) {
    // Interrupts are taken between chunks (privileged spec §3.1.9 allows any instruction boundary).
    const irq = pendingInterrupt();
    if (irq >= 0) {
      Cpu.resValid = false;
      takeTrap(CAUSE_INTERRUPT | <u64>irq, 0, Cpu.pc);
    }
    const start = chunkLength(left);
    let n = start;
    let pc = Cpu.pc;
    const rt = Cpu.readTlb;
    const wt = Cpu.writeTlb;
    const ep = Cpu.tlbEpoch;
    let fetchTag: u64 = 1; // never equal to a page address: forces the first fetch translation
    let fetchAdd: u32 = 0;
    let ctl: i32 = 0;
    let npc: u64 = pc;
    let raw: u32 = 0;
    while (n > 0) {
      n--;
      // ---- fetch
      if ((pc & TAG1) != fetchTag) {
        fetchAdd = fetchAddend(pc);
        fetchTag = pc & TAG1;
        if (Cpu.fetchUncached) {
          if (Cpu.excFlag) {
            ctl = CTL_EXC;
            break;
          }
          // A page split by PMP regions is not kept: every instruction on it is translated and checked.
          fetchTag = 1;
        }
      }
      let insn = load<u32>(<usize>(<u32>pc + fetchAdd));
      if ((insn & 3) != 3) {
        raw = insn & 0xffff;
        insn = load<u32>(RVC_TABLE + ((<usize>raw) << 2));
        npc = pc + 2;
      } else {
        if ((<u32>pc & 0xfff) == 0xffe) {
          // A 32-bit instruction straddling two pages.
          const hi = fetchHigh(pc);
          if (Cpu.excFlag) {
            ctl = CTL_EXC;
            break;
          }
          insn = (insn & 0xffff) | (hi << 16);
        }
        raw = insn;
        npc = pc + 4;
      }
      const rd = (insn >> 7) & 31;
      const rs1 = (insn >> 15) & 31;
      const f3 = (insn >> 12) & 7;
      // ---- execute
      // Dense dispatch on opcode[6:2] (a br_table): expanded RVC code always has opcode[1:0] = 11, and illegal
      // compressed encodings expand to RVC_ILLEGAL, whose opcode is reserved.
      switch ((insn >> 2) & 31) {
        case 0x04: {
          // OP-IMM
          const a = rx(rs1);
          const imm = <u64>(<i64>(<i32>insn >> 20));
          // ADDI (also LI, MV, NOP and most expanded RVC) first: a compare and branch is much cheaper than the
          // second indirect jump of the switch below (bench/hart-mips.ts).
          if (f3 == 0) {
            wx(rd, a + imm);
            break;
          }
          let v: u64 = 0;
          switch (f3) {
            case 0:
              v = a + imm;
              break;
            case 1:
              if ((insn >> 26) != 0) {
                ctl = CTL_EXC;
                break;
              }
              v = a << ((insn >> 20) & 63);
              break;
            case 2:
              v = <i64>a < <i64>imm ? 1 : 0;
              break;
            case 3:
              v = a < imm ? 1 : 0;
              break;
            case 4:
              v = a ^ imm;
              break;
            case 5: {
              const f6 = insn >> 26;
              if (f6 == 0) v = a >> ((insn >> 20) & 63);
              else if (f6 == 0x10) v = <u64>(<i64>a >> <i64>((insn >> 20) & 63));
              else {
                ctl = CTL_EXC;
                v = 0;
              }
              break;
            }
            case 6:
              v = a | imm;
              break;
            default:
              v = a & imm;
              break;
          }
          if (ctl != 0) {
            raise(EXC_ILLEGAL, raw);
            break;
          }
          wx(rd, v);
          break;
        }
        case 0x0c: {
          // OP
          const a = rx(rs1);
          const b = rx((insn >> 20) & 31);
          const f7 = insn >> 25;
          if ((insn & 0xfe00_7000) == 0) {
            // ADD first, as ADDI above.
            wx(rd, a + b);
            break;
          }
          let v: u64 = 0;
          if (f7 == 0) {
            // XOR, AND and OR next, also before the switch: hashing (the kernel's SHA-256, the largest part of a
            // Debian boot, and sha256sum) is mostly these and the 32-bit shifts.
            if (f3 == 4) {
              wx(rd, a ^ b);
              break;
            }
            if (f3 == 7) {
              wx(rd, a & b);
              break;
            }
            if (f3 == 6) {
              wx(rd, a | b);
              break;
            }
            switch (f3) {
              case 0:
                v = a + b;
                break;
              case 1:
                v = a << (b & 63);
                break;
              case 2:
                v = <i64>a < <i64>b ? 1 : 0;
                break;
              case 3:
                v = a < b ? 1 : 0;
                break;
              case 4:
                v = a ^ b;
                break;
              case 5:
                v = a >> (b & 63);
                break;
              case 6:
                v = a | b;
                break;
              default:
                v = a & b;
                break;
            }
          } else if (f7 == 1) {
            v = mulDiv(f3, a, b);
          } else if (f7 == 0x20 && f3 == 0) {
            v = a - b;
          } else if (f7 == 0x20 && f3 == 5) {
            v = <u64>(<i64>a >> <i64>(b & 63));
          } else {
            raise(EXC_ILLEGAL, raw);
            ctl = CTL_EXC;
            break;
          }
          wx(rd, v);
          break;
        }
        case 0x00: {
          // LOAD
          const va = rx(rs1) + <u64>(<i64>(<i32>insn >> 20));
          let v: u64 = 0;
          // LD and LW first, as ADDI above; the switch handles them too (slow path) and the other widths.
          if (f3 == 3) {
            const e = tlbEntry(rt, va);
            if (load<u64>(e) == ((va & TAG8) | ep)) {
              wx(rd, load<u64>(<usize>(<u32>va + load<u32>(e, 8))));
              break;
            }
          } else if (f3 == 2) {
            const e = tlbEntry(rt, va);
            if (load<u64>(e) == ((va & TAG4) | ep)) {
              wx(rd, <u64>load<i32>(<usize>(<u32>va + load<u32>(e, 8))));
              break;
            }
          }
          switch (f3) {
            case 0: {
              const e = tlbEntry(rt, va);
              if (load<u64>(e) == ((va & TAG1) | ep)) v = <u64>load<i8>(<usize>(<u32>va + load<u32>(e, 8)));
              else {
                v = <u64>(<i64>(<i8>loadSlow(va, 1)));
                if (Cpu.excFlag) ctl = CTL_EXC;
              }
              break;
            }
            case 1: {
              const e = tlbEntry(rt, va);
              if (load<u64>(e) == ((va & TAG2) | ep)) v = <u64>load<i16>(<usize>(<u32>va + load<u32>(e, 8)));
              else {
                v = <u64>(<i64>(<i16>loadSlow(va, 2)));
                if (Cpu.excFlag) ctl = CTL_EXC;
              }
              break;
            }
            case 2: {
              const e = tlbEntry(rt, va);
              if (load<u64>(e) == ((va & TAG4) | ep)) v = <u64>load<i32>(<usize>(<u32>va + load<u32>(e, 8)));
              else {
                v = <u64>(<i64>(<i32>loadSlow(va, 4)));
                if (Cpu.excFlag) ctl = CTL_EXC;
              }
              break;
            }
            case 3: {
              const e = tlbEntry(rt, va);
              if (load<u64>(e) == ((va & TAG8) | ep)) v = load<u64>(<usize>(<u32>va + load<u32>(e, 8)));
              else {
                v = loadSlow(va, 8);
                if (Cpu.excFlag) ctl = CTL_EXC;
              }
              break;
            }
            case 4: {
              const e = tlbEntry(rt, va);
              if (load<u64>(e) == ((va & TAG1) | ep)) v = <u64>load<u8>(<usize>(<u32>va + load<u32>(e, 8)));
              else {
                v = loadSlow(va, 1);
                if (Cpu.excFlag) ctl = CTL_EXC;
              }
              break;
            }
            case 5: {
              const e = tlbEntry(rt, va);
              if (load<u64>(e) == ((va & TAG2) | ep)) v = <u64>load<u16>(<usize>(<u32>va + load<u32>(e, 8)));
              else {
                v = loadSlow(va, 2);
                if (Cpu.excFlag) ctl = CTL_EXC;
              }
              break;
            }
            case 6: {
              const e = tlbEntry(rt, va);
              if (load<u64>(e) == ((va & TAG4) | ep)) v = <u64>load<u32>(<usize>(<u32>va + load<u32>(e, 8)));
              else {
                v = loadSlow(va, 4);
                if (Cpu.excFlag) ctl = CTL_EXC;
              }
              break;
            }
            default:
              raise(EXC_ILLEGAL, raw);
              ctl = CTL_EXC;
              break;
          }
          if (ctl != 0) break;
          wx(rd, v);
          break;
        }
        case 0x08: {
          // STORE
          const va = rx(rs1) + <u64>(<i64>((<i32>(insn & 0xfe00_0000) >> 20) | <i32>((insn >> 7) & 31)));
          const v = rx((insn >> 20) & 31);
          const e = tlbEntry(wt, va);
          // SD and SW first, as LD and LW.
          if (f3 == 3 && load<u64>(e) == ((va & TAG8) | ep)) {
            store<u64>(<usize>(<u32>va + load<u32>(e, 8)), v);
            break;
          }
          if (f3 == 2 && load<u64>(e) == ((va & TAG4) | ep)) {
            store<u32>(<usize>(<u32>va + load<u32>(e, 8)), <u32>v);
            break;
          }
          switch (f3) {
            case 0:
              if (load<u64>(e) == ((va & TAG1) | ep)) store<u8>(<usize>(<u32>va + load<u32>(e, 8)), <u8>v);
              else {
                storeSlow(va, 1, v);
                if (Cpu.excFlag) ctl = CTL_EXC;
              }
              break;
            case 1:
              if (load<u64>(e) == ((va & TAG2) | ep)) store<u16>(<usize>(<u32>va + load<u32>(e, 8)), <u16>v);
              else {
                storeSlow(va, 2, v);
                if (Cpu.excFlag) ctl = CTL_EXC;
              }
              break;
            case 2:
              if (load<u64>(e) == ((va & TAG4) | ep)) store<u32>(<usize>(<u32>va + load<u32>(e, 8)), <u32>v);
              else {
                storeSlow(va, 4, v);
                if (Cpu.excFlag) ctl = CTL_EXC;
              }
              break;
            case 3:
              if (load<u64>(e) == ((va & TAG8) | ep)) store<u64>(<usize>(<u32>va + load<u32>(e, 8)), v);
              else {
                storeSlow(va, 8, v);
                if (Cpu.excFlag) ctl = CTL_EXC;
              }
              break;
            default:
              raise(EXC_ILLEGAL, raw);
              ctl = CTL_EXC;
              break;
          }
          break;
        }
        case 0x18: {
          // BRANCH
          const a = rx(rs1);
          const b = rx((insn >> 20) & 31);
          // f3 bits 2:1 pick the comparison (EQ, -, LT, LTU), bit 0 negates it; compares and branches instead of a
          // second indirect jump, BEQ/BNE first.
          const k = f3 >> 1;
          let c = false;
          if (k == 0) c = a == b;
          else if (k == 2) c = <i64>a < <i64>b;
          else if (k == 3) c = a < b;
          else {
            raise(EXC_ILLEGAL, raw);
            ctl = CTL_EXC;
            break;
          }
          if (c != ((f3 & 1) != 0)) {
            const imm =
              (<i32>(insn & 0x8000_0000) >> 19) |
              <i32>((insn & 0x80) << 4) |
              <i32>((insn >> 20) & 0x7e0) |
              <i32>((insn >> 7) & 0x1e);
            npc = pc + <u64>(<i64>imm);
          }
          break;
        }
        case 0x1b: {
          // JAL
          const imm =
            (<i32>(insn & 0x8000_0000) >> 11) |
            <i32>(insn & 0xf_f000) |
            <i32>((insn >> 9) & 0x800) |
            <i32>((insn >> 20) & 0x7fe);
          wx(rd, npc);
          npc = pc + <u64>(<i64>imm);
          break;
        }
        case 0x19: {
          // JALR
          if (f3 != 0) {
            raise(EXC_ILLEGAL, raw);
            ctl = CTL_EXC;
            break;
          }
          const t = (rx(rs1) + <u64>(<i64>(<i32>insn >> 20))) & ~(<u64>1);
          wx(rd, npc);
          npc = t;
          break;
        }
        case 0x0d:
          // LUI
          wx(rd, <u64>(<i64>(<i32>(insn & 0xffff_f000))));
          break;
        case 0x05:
          // AUIPC
          wx(rd, pc + <u64>(<i64>(<i32>(insn & 0xffff_f000))));
          break;
        case 0x06: {
          // OP-IMM-32
          const a = rx(rs1);
          let v: u64 = 0;
          if (f3 == 0) v = sext32(a + <u64>(<i64>(<i32>insn >> 20)));
          else if (f3 == 1 && (insn >> 25) == 0) v = sext32(<u64>(<u32>a << ((insn >> 20) & 31)));
          else if (f3 == 5 && (insn >> 25) == 0) v = sext32(<u64>(<u32>a >> ((insn >> 20) & 31)));
          else if (f3 == 5 && (insn >> 25) == 0x20) v = <u64>(<i64>(<i32>a >> <i32>((insn >> 20) & 31)));
          else {
            raise(EXC_ILLEGAL, raw);
            ctl = CTL_EXC;
            break;
          }
          wx(rd, v);
          break;
        }
        case 0x0e: {
          // OP-32
          const a = rx(rs1);
          const b = rx((insn >> 20) & 31);
          const f7 = insn >> 25;
          let v: u64 = 0;
          if (f7 == 0 && f3 == 0) v = sext32(a + b);
          else if (f7 == 0x20 && f3 == 0) v = sext32(a - b);
          else if (f7 == 0 && f3 == 1) v = sext32(<u64>(<u32>a << <u32>(b & 31)));
          else if (f7 == 0 && f3 == 5) v = sext32(<u64>(<u32>a >> <u32>(b & 31)));
          else if (f7 == 0x20 && f3 == 5) v = <u64>(<i64>(<i32>a >> <i32>(b & 31)));
          else if (f7 == 1 && (f3 == 0 || f3 >= 4)) v = mulDivW(f3, a, b);
          else {
            raise(EXC_ILLEGAL, raw);
            ctl = CTL_EXC;
            break;
          }
          wx(rd, v);
          break;
        }
        case 0x0b: {
          // AMO (unprivileged spec ch. 13)
          const f5 = insn >> 27;
          const rs2 = (insn >> 20) & 31;
          if (f3 != 2 && f3 != 3) {
            raise(EXC_ILLEGAL, raw);
            ctl = CTL_EXC;
            break;
          }
          const size: u32 = f3 == 2 ? 4 : 8;
          const va = rx(rs1);
          if (f5 == 0x02) {
            // LR
            if (rs2 != 0) {
              raise(EXC_ILLEGAL, raw);
              ctl = CTL_EXC;
              break;
            }
            const h = atomicHost(va, size, ACC_READ);
            if (Cpu.excFlag) {
              ctl = CTL_EXC;
              break;
            }
            Cpu.resValid = true;
            Cpu.resAddr = va;
            wx(rd, size == 4 ? <u64>(<i64>load<i32>(h)) : load<u64>(h));
          } else if (f5 == 0x03) {
            // SC: fails without access when the reservation does not cover va.
            if ((va & (<u64>size - 1)) == 0 && !(Cpu.resValid && Cpu.resAddr == va)) {
              Cpu.resValid = false;
              wx(rd, 1);
              break;
            }
            const h = atomicHost(va, size, ACC_WRITE);
            if (Cpu.excFlag) {
              ctl = CTL_EXC;
              break;
            }
            Cpu.resValid = false;
            const src = rx(rs2);
            if (size == 4) store<u32>(h, <u32>src);
            else store<u64>(h, src);
            wx(rd, 0);
          } else if (amoValid(f5)) {
            const h = atomicHost(va, size, ACC_WRITE);
            if (Cpu.excFlag) {
              ctl = CTL_EXC;
              break;
            }
            const src = rx(rs2);
            if (size == 4) {
              const old = <u64>(<i64>load<i32>(h));
              store<u32>(h, <u32>amoOp(f5, old, src, true));
              wx(rd, old);
            } else {
              const old = load<u64>(h);
              store<u64>(h, amoOp(f5, old, src, false));
              wx(rd, old);
            }
          } else {
            raise(EXC_ILLEGAL, raw);
            ctl = CTL_EXC;
          }
          break;
        }
        case 0x03: {
          // MISC-MEM: FENCE is a no-op for one hart; FENCE.I too while there is no decoded-code cache.
          if (f3 > 1) {
            raise(EXC_ILLEGAL, raw);
            ctl = CTL_EXC;
          }
          break;
        }
        case 0x1c: {
          // SYSTEM
          Cpu.inFlight = <u64>(start - n - 1);
          if (f3 == 0) {
            const prv = Cpu.priv;
            if (insn == 0x0000_0073) {
              // ECALL: cause 8 + privilege (privileged spec §3.3.1).
              raise(EXC_ECALL_U + <u64>prv, 0);
              ctl = CTL_EXC;
            } else if (insn == 0x0010_0073) {
              raise(EXC_BREAKPOINT, pc);
              ctl = CTL_EXC;
            } else if (insn == 0x3020_0073 && prv == PRV_M) {
              Cpu.resValid = false;
              doMret();
              ctl = CTL_JUMPED;
            } else if (insn == 0x1020_0073 && prv >= PRV_S && !(prv == PRV_S && (Cpu.mstatus & MSTATUS_TSR) != 0)) {
              // SRET is illegal in U, and in S when mstatus.TSR = 1 (§3.1.6.5).
              Cpu.resValid = false;
              doSret();
              ctl = CTL_JUMPED;
            } else if (insn == 0x1050_0073) {
              // WFI: illegal in U, and below M when mstatus.TW = 1 (§3.1.6.5, §3.3.3).
              if (prv == PRV_U || (prv < PRV_M && (Cpu.mstatus & MSTATUS_TW) != 0)) {
                raise(EXC_ILLEGAL, raw);
                ctl = CTL_EXC;
              } else if (wfiWake()) {
                ctl = CTL_END;
              } else if (Cpu.instrPerTick != 0 && (Cpu.mie & MIP_MTIP) != 0 && Cpu.mtimecmp != 0xffff_ffff_ffff_ffff) {
                // Deterministic clock: nothing can happen before the timer deadline, so jump time forward to it.
                const now = mtimeNow();
                if (Cpu.mtimecmp > now) Cpu.mtimeOffset += Cpu.mtimecmp - now;
                ctl = CTL_END;
              } else {
                ctl = CTL_WFI;
              }
            } else if ((insn >> 25) == 0x09 && rd == 0 && prv >= PRV_S && !(prv == PRV_S && (Cpu.mstatus & MSTATUS_TVM) != 0)) {
              // SFENCE.VMA: the TLB has no ASIDs, so every form flushes everything (§4.2.1).
              tlbFlushAll();
              ctl = CTL_END;
            } else {
              raise(EXC_ILLEGAL, raw);
              ctl = CTL_EXC;
            }
            break;
          }
          if (f3 == 4) {
            raise(EXC_ILLEGAL, raw);
            ctl = CTL_EXC;
            break;
          }
          // Zicsr: CSRRW/S/C and the immediate forms (f3 & 4).
          const csr = insn >> 20;
          const op = f3 & 3;
          const src: u64 = (f3 & 4) != 0 ? <u64>rs1 : rx(rs1);
          const doWrite = op == 1 || rs1 != 0;
          const old = csrAccess(csr, op, src, doWrite);
          if (csrIllegal) {
            raise(EXC_ILLEGAL, raw);
            ctl = CTL_EXC;
            break;
          }
          wx(rd, old);
          if (doWrite) ctl = CTL_END;
          break;
        }
        case 0x01: {
          // LOAD-FP: FLW, FLD (the hart owns FP memory access; FLW NaN-boxes, unprivileged spec §12.2).
          if ((Cpu.mstatus & MSTATUS_FS) == 0 || (f3 != 2 && f3 != 3)) {
            raise(EXC_ILLEGAL, raw);
            ctl = CTL_EXC;
            break;
          }
          const va = rx(rs1) + <u64>(<i64>(<i32>insn >> 20));
          let v: u64;
          if (f3 == 2) {
            const e = tlbEntry(rt, va);
            if (load<u64>(e) == ((va & TAG4) | ep)) v = <u64>load<u32>(<usize>(<u32>va + load<u32>(e, 8)));
            else v = loadSlow(va, 4);
            v |= 0xffff_ffff_0000_0000;
          } else {
            const e = tlbEntry(rt, va);
            if (load<u64>(e) == ((va & TAG8) | ep)) v = load<u64>(<usize>(<u32>va + load<u32>(e, 8)));
            else v = loadSlow(va, 8);
          }
          if (Cpu.excFlag) {
            ctl = CTL_EXC;
            break;
          }
          setF(rd, v);
          foldFsDirty();
          break;
        }
        case 0x09: {
          // STORE-FP: FSW, FSD
          if ((Cpu.mstatus & MSTATUS_FS) == 0 || (f3 != 2 && f3 != 3)) {
            raise(EXC_ILLEGAL, raw);
            ctl = CTL_EXC;
            break;
          }
          const va = rx(rs1) + <u64>(<i64>((<i32>(insn & 0xfe00_0000) >> 20) | <i32>((insn >> 7) & 31)));
          const v = getF((insn >> 20) & 31);
          const e = tlbEntry(wt, va);
          if (f3 == 2) {
            if (load<u64>(e) == ((va & TAG4) | ep)) store<u32>(<usize>(<u32>va + load<u32>(e, 8)), <u32>v);
            else storeSlow(va, 4, v);
          } else {
            if (load<u64>(e) == ((va & TAG8) | ep)) store<u64>(<usize>(<u32>va + load<u32>(e, 8)), v);
            else storeSlow(va, 8, v);
          }
          if (Cpu.excFlag) ctl = CTL_EXC;
          break;
        }
        case 0x10:
        case 0x11:
        case 0x12:
        case 0x13:
        case 0x14: {
          // OP-FP and fused multiply-add: executed by the FPU once mstatus.FS is on.
          if ((Cpu.mstatus & MSTATUS_FS) == 0 || fpExecute(insn) != 0) {
            raise(EXC_ILLEGAL, raw);
            ctl = CTL_EXC;
            break;
          }
          foldFsDirty();
          break;
        }
        default:
          raise(EXC_ILLEGAL, raw);
          ctl = CTL_EXC;
          break;
      }
      if (ctl != 0) break;
      pc = npc;
    }
    // ---- leave the chunk
    Cpu.inFlight = 0;
    const done = start - n;
    left -= <i64>done;
    const k = <u64>done;
    Cpu.instretTotal += k;
    if ((Cpu.mcountinhibit & 4) == 0) Cpu.minstret += k;
    if ((Cpu.mcountinhibit & 1) == 0) Cpu.mcycle += k;
    if (ctl == 0) {
      Cpu.pc = pc;
    } else if (ctl == CTL_EXC) {
      Cpu.excFlag = false;
      if (Cpu.excCause == CAUSE_HTIF_STOP) {
        Cpu.pc = npc;
        Cpu.stop = STOP_HTIF;
      } else {
        const cause = Cpu.excCause;
        takeTrap(cause, Cpu.excTval, pc);
        // A fetch fault whose handler is the faulting address itself can never make progress.
        if (cause == EXC_INSN_ACCESS && Cpu.pc == pc && Cpu.priv == PRV_M) {
          Cpu.faultCause = cause;
          Cpu.faultPc = pc;
          Cpu.stop = STOP_FAULT;
        }
      }
    } else if (ctl == CTL_END) {
      Cpu.pc = npc;
    } else if (ctl == CTL_WFI) {
      Cpu.pc = npc;
      Cpu.stop = STOP_WFI;
    }
    if (Cpu.stop != STOP_NONE) return Cpu.stop;
  }
  return STOP_BUDGET;
}
