// Strata hart — control and status registers (RISC-V privileged spec ch. 2, 3, 4; unprivileged Zicsr, Zicntr).
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter.
//
// csrRead/csrWrite implement the registers; the privilege and read-only checks of §2.1 are made by csrAccess,
// which the interpreter calls for every CSR instruction. An unknown CSR is an illegal instruction, which is what
// OpenSBI's probing of optional CSRs expects.

import { mtimeNow } from './clint';
import { Cpu, PRV_M, PRV_S, PRV_U } from './cpu-state';
import { PMPADDR_BASE, PMPCFG_BASE } from './layout';
import { tlbFlushAll, updateTlbContext } from './mmu';
import { pmpAddrRead, pmpAddrWrite, pmpCfgRead, pmpCfgWrite, pmpSync } from './pmp';
import { fflags, frm, setFflags, setFrm } from './state';
import {
  MIP_SEIP,
  MIP_SSIP,
  MIP_STIP,
  MSTATUS_FS,
  MSTATUS_MIE,
  MSTATUS_MPIE,
  MSTATUS_MPP,
  MSTATUS_MPRV,
  MSTATUS_MXR,
  MSTATUS_SIE,
  MSTATUS_SPIE,
  MSTATUS_SPP,
  MSTATUS_SUM,
  MSTATUS_TSR,
  MSTATUS_TVM,
  MSTATUS_TW,
  readMip,
} from './trap';

/** misa: MXL=2 (RV64), extensions A C D F I M S U (privileged spec §3.1.1). */
export const MISA: u64 =
  (<u64>2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);

/** mstatus.UXL (bits 33:32) = 2: U-mode is 64-bit (privileged spec §3.1.6.2). */
const MSTATUS_UXL: u64 = <u64>2 << 32;
/** mstatus.SXL (bits 35:34) = 2: S-mode is 64-bit. */
const MSTATUS_SXL: u64 = <u64>2 << 34;
const MSTATUS_UXL_SXL: u64 = MSTATUS_UXL | MSTATUS_SXL;
const MSTATUS_SD: u64 = <u64>1 << 63;
/** Bits of mstatus that M-mode can write (VS, XS, UBE/SBE/MBE are read-only zero: no V extension, little endian). */
const MSTATUS_WMASK: u64 =
  MSTATUS_SIE |
  MSTATUS_MIE |
  MSTATUS_SPIE |
  MSTATUS_MPIE |
  MSTATUS_SPP |
  MSTATUS_MPP |
  MSTATUS_FS |
  MSTATUS_MPRV |
  MSTATUS_SUM |
  MSTATUS_MXR |
  MSTATUS_TVM |
  MSTATUS_TW |
  MSTATUS_TSR;
/**
 * sstatus is a restricted view of mstatus (privileged spec v1.13 §10.1.1 = v1.12 §4.1.1, "Supervisor Status
 * Register"): it has UXL (bits 33:32) but no SXL, so bits 35:34 of sstatus read zero.
 */
const SSTATUS_RMASK: u64 =
  MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_UXL | MSTATUS_SD;
const SSTATUS_WMASK: u64 = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR;
/** Interrupts that exist (SSI, MSI, STI, MTI, SEI, MEI). */
const MIE_MASK: u64 = 0xaaa;
/** Interrupts M-mode may delegate and whose mip bits M-mode may write (§3.1.8, §3.1.9). */
const S_INTERRUPTS: u64 = MIP_SSIP | MIP_STIP | MIP_SEIP;
/** Delegable exceptions: all but ECALL from M (11) and the reserved codes 10 and 14 (§3.1.8). */
const MEDELEG_MASK: u64 = 0xb3ff;

/** Set by csrRead/csrWrite when the CSR does not exist or the access is not allowed. */
export let csrIllegal: bool = false;

/** mstatus as software reads it: SD summarises FS, UXL = SXL = 2 (64-bit). */
export function readMstatus(): u64 {
  let v = Cpu.mstatus | MSTATUS_UXL_SXL;
  if ((Cpu.mstatus & MSTATUS_FS) == MSTATUS_FS) v |= MSTATUS_SD;
  return v;
}

function writeMstatus(v: u64): void {
  let ms = (Cpu.mstatus & ~MSTATUS_WMASK) | (v & MSTATUS_WMASK);
  // MPP is WARL over the implemented modes; the reserved encoding 2 becomes U (§3.1.6.2).
  if ((ms & MSTATUS_MPP) == <u64>2 << 11) ms &= ~MSTATUS_MPP;
  Cpu.mstatus = ms;
  updateTlbContext();
}

/** Whether the counter at index `idx` (0 cycle, 1 time, 2 instret, 3..31 hpm) may be read at the current privilege. */
function counterAllowed(idx: u32): bool {
  const prv = Cpu.priv;
  if (prv == PRV_M) return true;
  if (((Cpu.mcounteren >> idx) & 1) == 0) return false;
  if (prv == PRV_U && ((Cpu.scounteren >> idx) & 1) == 0) return false;
  return true;
}

/** Cycle count including the running chunk (no separate cycle model: one cycle per instruction). */
function readMcycle(): u64 {
  return (Cpu.mcountinhibit & 1) != 0 ? Cpu.mcycle : Cpu.mcycle + Cpu.inFlight;
}

function readMinstret(): u64 {
  return (Cpu.mcountinhibit & 4) != 0 ? Cpu.minstret : Cpu.minstret + Cpu.inFlight;
}

/** Whether the FP unit is on (mstatus.FS != Off); FP CSRs are illegal otherwise (§3.1.6.6). */
// @ts-ignore: decorator
@inline function fpOn(): bool {
  return (Cpu.mstatus & MSTATUS_FS) != 0;
}

/** Reads CSR `csr` without side effects; sets csrIllegal for a missing CSR. Privilege is checked by the caller. */
export function csrRead(csr: u32): u64 {
  switch (csr) {
    case 0x001:
      if (!fpOn()) break;
      return <u64>fflags;
    case 0x002:
      if (!fpOn()) break;
      return <u64>frm;
    case 0x003:
      if (!fpOn()) break;
      return <u64>((frm << 5) | fflags);
    case 0xc00:
      if (!counterAllowed(0)) break;
      return readMcycle();
    case 0xc01:
      if (!counterAllowed(1)) break;
      return mtimeNow();
    case 0xc02:
      if (!counterAllowed(2)) break;
      return readMinstret();
    case 0x100:
      return readMstatus() & SSTATUS_RMASK;
    case 0x104:
      return Cpu.mie & Cpu.mideleg;
    case 0x105:
      return Cpu.stvec;
    case 0x106:
      return Cpu.scounteren;
    case 0x10a:
      return 0; // senvcfg: no FIOM, CBIE, CBCFE or CBZE (WARL zero)
    case 0x140:
      return Cpu.sscratch;
    case 0x141:
      return Cpu.sepc;
    case 0x142:
      return Cpu.scause;
    case 0x143:
      return Cpu.stval;
    case 0x144:
      return readMip() & Cpu.mideleg;
    case 0x180:
      // §3.1.6.5: with TVM=1, satp access from S-mode is illegal.
      if (Cpu.priv == PRV_S && (Cpu.mstatus & MSTATUS_TVM) != 0) break;
      return Cpu.satp;
    case 0x300:
      return readMstatus();
    case 0x301:
      return MISA;
    case 0x302:
      return Cpu.medeleg;
    case 0x303:
      return Cpu.mideleg;
    case 0x304:
      return Cpu.mie;
    case 0x305:
      return Cpu.mtvec;
    case 0x306:
      return Cpu.mcounteren;
    case 0x30a:
      return 0; // menvcfg: WARL zero (no Sstc, Svpbmt, Zicbo*)
    case 0x320:
      return Cpu.mcountinhibit;
    case 0x340:
      return Cpu.mscratch;
    case 0x341:
      return Cpu.mepc;
    case 0x342:
      return Cpu.mcause;
    case 0x343:
      return Cpu.mtval;
    case 0x344:
      return readMip();
    case 0xb00:
      return readMcycle();
    case 0xb02:
      return readMinstret();
    case 0xf11: // mvendorid
    case 0xf12: // marchid
    case 0xf13: // mimpid
    case 0xf15: // mconfigptr
      return 0;
    case 0xf14:
      return Cpu.hartId;
    default:
      // hpmcounter3..31 (read-only zero, gated like the other counters).
      if (csr >= 0xc03 && csr <= 0xc1f) {
        if (!counterAllowed(csr - 0xc00)) break;
        return 0;
      }
      // mhpmcounter3..31 and mhpmevent3..31: implemented as read-only zero (§3.1.10).
      if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) return 0;
      // pmpcfg0..15 (only the even ones exist on RV64) and pmpaddr0..63; entries 16..63 read zero (pmp.ts, §3.7).
      if (csr >= 0x3a0 && csr <= 0x3af) {
        if ((csr & 1) != 0) break;
        return pmpCfgRead((csr - 0x3a0) >> 1);
      }
      if (csr >= 0x3b0 && csr <= 0x3ef) return pmpAddrRead(csr - 0x3b0);
      break;
  }
  csrIllegal = true;
  return 0;
}

/** Writes CSR `csr` with the WARL rules applied; sets csrIllegal when the CSR does not exist. */
export function csrWrite(csr: u32, v: u64): void {
  switch (csr) {
    case 0x001:
      setFflags(<u32>v);
      Cpu.mstatus |= MSTATUS_FS;
      return;
    case 0x002:
      setFrm(<u32>v);
      Cpu.mstatus |= MSTATUS_FS;
      return;
    case 0x003:
      setFflags(<u32>v);
      setFrm(<u32>(v >> 5));
      Cpu.mstatus |= MSTATUS_FS;
      return;
    case 0x100:
      writeMstatus((Cpu.mstatus & ~SSTATUS_WMASK) | (v & SSTATUS_WMASK));
      return;
    case 0x104: {
      const m = Cpu.mideleg & S_INTERRUPTS;
      Cpu.mie = (Cpu.mie & ~m) | (v & m);
      return;
    }
    case 0x105:
      Cpu.stvec = v & ~(<u64>2);
      return;
    case 0x106:
      Cpu.scounteren = v & 0xffff_ffff;
      return;
    case 0x10a:
      return;
    case 0x140:
      Cpu.sscratch = v;
      return;
    case 0x141:
      Cpu.sepc = v & ~(<u64>1);
      return;
    case 0x142:
      Cpu.scause = v;
      return;
    case 0x143:
      Cpu.stval = v;
      return;
    case 0x144: {
      // Only SSIP is writable through sip, and only when delegated (§4.1.3).
      const m = Cpu.mideleg & MIP_SSIP;
      Cpu.mipSw = (Cpu.mipSw & ~m) | (v & m);
      return;
    }
    case 0x180: {
      const mode = v >> 60;
      // Unsupported modes leave satp unchanged (§4.1.11). ASIDLEN = 0: the ASID field reads zero.
      if (mode != 0 && mode != 8) return;
      Cpu.satp = v & 0xf000_0fff_ffff_ffff;
      tlbFlushAll();
      return;
    }
    case 0x300:
      writeMstatus(v);
      return;
    case 0x301:
      return; // misa is read-only here (WARL)
    case 0x302:
      Cpu.medeleg = v & MEDELEG_MASK;
      return;
    case 0x303:
      Cpu.mideleg = v & S_INTERRUPTS;
      return;
    case 0x304:
      Cpu.mie = v & MIE_MASK;
      return;
    case 0x305:
      // Modes >= 2 are reserved; keep only the direct/vectored bit (WARL).
      Cpu.mtvec = v & ~(<u64>2);
      return;
    case 0x306:
      Cpu.mcounteren = v & 0xffff_ffff;
      return;
    case 0x30a:
      return;
    case 0x320:
      Cpu.mcountinhibit = v & 5;
      return;
    case 0x340:
      Cpu.mscratch = v;
      return;
    case 0x341:
      Cpu.mepc = v & ~(<u64>1);
      return;
    case 0x342:
      Cpu.mcause = v;
      return;
    case 0x343:
      Cpu.mtval = v;
      return;
    case 0x344:
      // M-mode writes SSIP, STIP and SEIP; STIP is software-driven because there is no Sstc (§3.1.9).
      Cpu.mipSw = (Cpu.mipSw & ~S_INTERRUPTS) | (v & S_INTERRUPTS);
      return;
    case 0xb00:
      // The writing instruction itself is counted when the chunk retires, hence the -1.
      Cpu.mcycle = v - Cpu.inFlight - 1;
      return;
    case 0xb02:
      Cpu.minstret = v - Cpu.inFlight - 1;
      return;
    default:
      if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) return;
      // PMP: the TLB caches permissions checked against PMP when entries were filled, so any PMP write flushes
      // it (the CSR write also ends the interpreter's chunk).
      if (csr >= 0x3a0 && csr <= 0x3af) {
        if ((csr & 1) != 0) break;
        pmpCfgWrite((csr - 0x3a0) >> 1, v);
        tlbFlushAll();
        return;
      }
      if (csr >= 0x3b0 && csr <= 0x3ef) {
        pmpAddrWrite(csr - 0x3b0, v);
        tlbFlushAll();
        return;
      }
      break;
  }
  csrIllegal = true;
}

/** Software value of mip for CSRRS/CSRRC (the SEIP line is not folded in, §3.1.9). */
function readForModify(csr: u32): u64 {
  if (csr == 0x344) return readMip() & ~MIP_SEIP | (Cpu.mipSw & MIP_SEIP);
  if (csr == 0x144) return (readMip() & ~MIP_SEIP | (Cpu.mipSw & MIP_SEIP)) & Cpu.mideleg;
  return csrRead(csr);
}

/**
 * Executes the CSR part of a Zicsr instruction. `op` is funct3 & 3 (1 RW, 2 RS, 3 RC), `src` the rs1 value or
 * zero-extended uimm, `doWrite` false for CSRRS/CSRRC with x0/uimm 0 (no write, no write side effects).
 * Returns the old value; sets csrIllegal on any violation (§2.1: privilege in bits 9:8, read-only when bits
 * 11:10 are 0b11).
 */
export function csrAccess(csr: u32, op: u32, src: u64, doWrite: bool): u64 {
  csrIllegal = false;
  if (<i32>((csr >> 8) & 3) > Cpu.priv || (doWrite && (csr >> 10) == 3)) {
    csrIllegal = true;
    return 0;
  }
  const old = csrRead(csr);
  if (csrIllegal || !doWrite) return old;
  let nv: u64;
  if (op == 1) nv = src;
  else {
    const base = readForModify(csr);
    nv = op == 2 ? base | src : base & ~src;
  }
  csrWrite(csr, nv);
  return old;
}

/** Reset values of the CSRs (privileged spec §3.4): M-mode, MIE = 0, MPRV = 0, satp Bare. */
export function csrReset(): void {
  Cpu.priv = PRV_M;
  Cpu.mstatus = 0;
  Cpu.medeleg = 0;
  Cpu.mideleg = 0;
  Cpu.mie = 0;
  Cpu.mipSw = 0;
  Cpu.mtvec = 0;
  Cpu.stvec = 0;
  Cpu.mscratch = 0;
  Cpu.sscratch = 0;
  Cpu.mepc = 0;
  Cpu.sepc = 0;
  Cpu.mcause = 0;
  Cpu.scause = 0;
  Cpu.mtval = 0;
  Cpu.stval = 0;
  Cpu.mcounteren = 0;
  Cpu.scounteren = 0;
  Cpu.mcountinhibit = 0;
  Cpu.satp = 0;
  Cpu.mcycle = 0;
  Cpu.minstret = 0;
  Cpu.resValid = false;
  setFflags(0);
  setFrm(0);
  // PMP entries reset to OFF and unlocked (§3.7.1); the TLB must not keep permissions derived from the old ones.
  memory.fill(PMPCFG_BASE, 0, PMPADDR_BASE + 64 * 8 - PMPCFG_BASE);
  pmpSync();
  tlbFlushAll();
  updateTlbContext();
}
