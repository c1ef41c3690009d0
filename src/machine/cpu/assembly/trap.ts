// Strata hart — trap entry, xRET and interrupt selection (RISC-V privileged spec §3.1.6, §3.1.9, §3.3.2, §4.1).
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter.

import { mtipNow, mtipPolled } from './clint';
import { Cpu, PRV_M, PRV_S, PRV_U } from './cpu-state';
import { IRQ_LINES } from './layout';
import { updateTlbContext } from './mmu';

/** mstatus.SIE: S-mode interrupt enable. */
export const MSTATUS_SIE: u64 = 1 << 1;
/** mstatus.MIE: M-mode interrupt enable. */
export const MSTATUS_MIE: u64 = 1 << 3;
/** mstatus.SPIE: SIE before the last trap into S. */
export const MSTATUS_SPIE: u64 = 1 << 5;
/** mstatus.MPIE: MIE before the last trap into M. */
export const MSTATUS_MPIE: u64 = 1 << 7;
/** mstatus.SPP: privilege before the last trap into S. */
export const MSTATUS_SPP: u64 = 1 << 8;
/** mstatus.MPP: privilege before the last trap into M. */
export const MSTATUS_MPP: u64 = 3 << 11;
/** mstatus.FS: floating-point unit state (Off, Initial, Clean, Dirty). */
export const MSTATUS_FS: u64 = 3 << 13;
/** mstatus.MPRV: M-mode loads and stores use the MPP privilege. */
export const MSTATUS_MPRV: u64 = 1 << 17;
/** mstatus.SUM: S-mode may access U pages. */
export const MSTATUS_SUM: u64 = 1 << 18;
/** mstatus.MXR: loads from execute-only pages succeed. */
export const MSTATUS_MXR: u64 = 1 << 19;
/** mstatus.TVM: trap satp accesses and SFENCE.VMA in S. */
export const MSTATUS_TVM: u64 = 1 << 20;
/** mstatus.TW: trap WFI below M. */
export const MSTATUS_TW: u64 = 1 << 21;
/** mstatus.TSR: trap SRET in S. */
export const MSTATUS_TSR: u64 = 1 << 22;

/** Interrupt bits of mip/mie (privileged spec §3.1.9). */
export const MIP_SSIP: u64 = 1 << 1;
/** Machine software interrupt. */
export const MIP_MSIP: u64 = 1 << 3;
/** Supervisor timer interrupt. */
export const MIP_STIP: u64 = 1 << 5;
/** Machine timer interrupt. */
export const MIP_MTIP: u64 = 1 << 7;
/** Supervisor external interrupt. */
export const MIP_SEIP: u64 = 1 << 9;
/** Machine external interrupt. */
export const MIP_MEIP: u64 = 1 << 11;

/** The interrupt bit of mcause/scause. */
export const CAUSE_INTERRUPT: u64 = 0x8000_0000_0000_0000;

/** Current mip as the guest reads it: software bits plus the CLINT and PLIC lines (§3.1.9). */
export function readMip(): u64 {
  let v = Cpu.mipSw;
  if (Cpu.msip != 0) v |= MIP_MSIP;
  if (mtipNow()) v |= MIP_MTIP;
  const lines = load<u32>(IRQ_LINES);
  if ((lines & 1) != 0) v |= MIP_MEIP;
  // The guest-visible SEIP is the OR of the software-writable bit and the PLIC line (§3.1.9).
  if ((lines & 2) != 0) v |= MIP_SEIP;
  return v;
}

/**
 * mip for interrupt selection: reads the clock only when the timer interrupt is enabled, and with `polled` (the
 * check between chunks) at most once per clint.ts TIMER_POLL_INSTRUCTIONS while the timer is not due.
 */
function pendingMip(polled: bool): u64 {
  let v = Cpu.mipSw;
  if (Cpu.msip != 0) v |= MIP_MSIP;
  if ((Cpu.mie & MIP_MTIP) != 0 && (polled ? mtipPolled() : mtipNow())) v |= MIP_MTIP;
  const lines = load<u32>(IRQ_LINES);
  if ((lines & 1) != 0) v |= MIP_MEIP;
  if ((lines & 2) != 0) v |= MIP_SEIP;
  return v;
}

/** Whether any interrupt is pending and enabled in mie (what wakes WFI, §3.3.3, regardless of global enables). */
export function wfiWake(): bool {
  return (pendingMip(false) & Cpu.mie) != 0;
}

/** Highest-priority interrupt in `bits`: MEI, MSI, MTI, SEI, SSI, STI (§3.1.9). Returns -1 if none. */
function pickInterrupt(bits: u64): i32 {
  if ((bits & MIP_MEIP) != 0) return 11;
  if ((bits & MIP_MSIP) != 0) return 3;
  if ((bits & MIP_MTIP) != 0) return 7;
  if ((bits & MIP_SEIP) != 0) return 9;
  if ((bits & MIP_SSIP) != 0) return 1;
  if ((bits & MIP_STIP) != 0) return 5;
  return -1;
}

/**
 * The interrupt the hart takes now, or -1 (§3.1.9): M-level interrupts are enabled below M or with mstatus.MIE;
 * delegated ones below S or in S with SIE. Interrupts for M take precedence over those for S.
 */
export function pendingInterrupt(): i32 {
  const pend = pendingMip(true) & Cpu.mie;
  if (pend == 0) return -1;
  const prv = Cpu.priv;
  const ms = Cpu.mstatus;
  const mPend = pend & ~Cpu.mideleg;
  if (mPend != 0 && (prv < PRV_M || (ms & MSTATUS_MIE) != 0)) return pickInterrupt(mPend);
  const sPend = pend & Cpu.mideleg;
  if (sPend != 0 && (prv < PRV_S || (prv == PRV_S && (ms & MSTATUS_SIE) != 0))) return pickInterrupt(sPend);
  return -1;
}

/**
 * Enters the trap handler for `cause` (interrupt bit included) raised by the instruction at `pc` (§3.1.6.1,
 * §4.1.1): delegated to S when the hart is in S or U and the m[e|i]deleg bit is set, else to M. Sets Cpu.pc.
 */
export function takeTrap(cause: u64, tval: u64, pc: u64): void {
  const isInt = (cause & CAUSE_INTERRUPT) != 0;
  const code = cause & 63;
  const deleg = isInt ? Cpu.mideleg : Cpu.medeleg;
  const prv = Cpu.priv;
  let ms = Cpu.mstatus;
  if (prv <= PRV_S && ((deleg >> code) & 1) != 0) {
    Cpu.scause = cause;
    Cpu.sepc = pc;
    Cpu.stval = tval;
    ms = (ms & ~MSTATUS_SPIE) | ((ms & MSTATUS_SIE) << 4);
    ms = (ms & ~(MSTATUS_SIE | MSTATUS_SPP)) | (prv == PRV_S ? MSTATUS_SPP : 0);
    Cpu.mstatus = ms;
    Cpu.priv = PRV_S;
    const tv = Cpu.stvec;
    Cpu.pc = (tv & ~(<u64>3)) + (isInt && (tv & 1) != 0 ? code << 2 : 0);
  } else {
    Cpu.mcause = cause;
    Cpu.mepc = pc;
    Cpu.mtval = tval;
    ms = (ms & ~MSTATUS_MPIE) | ((ms & MSTATUS_MIE) << 4);
    ms = (ms & ~(MSTATUS_MIE | MSTATUS_MPP)) | ((<u64>prv) << 11);
    Cpu.mstatus = ms;
    Cpu.priv = PRV_M;
    const tv = Cpu.mtvec;
    Cpu.pc = (tv & ~(<u64>3)) + (isInt && (tv & 1) != 0 ? code << 2 : 0);
  }
  updateTlbContext();
}

/** MRET (§3.3.2): back to mstatus.MPP with MIE = MPIE. Caller checked privilege. Sets Cpu.pc. */
export function doMret(): void {
  let ms = Cpu.mstatus;
  const mpp = <i32>((ms >> 11) & 3);
  ms = (ms & ~MSTATUS_MIE) | ((ms & MSTATUS_MPIE) >> 4);
  ms |= MSTATUS_MPIE;
  ms &= ~MSTATUS_MPP;
  if (mpp != PRV_M) ms &= ~MSTATUS_MPRV;
  Cpu.mstatus = ms;
  Cpu.priv = mpp;
  Cpu.pc = Cpu.mepc;
  updateTlbContext();
}

/** SRET (§3.3.2): back to sstatus.SPP with SIE = SPIE; clears MPRV. Caller checked privilege. Sets Cpu.pc. */
export function doSret(): void {
  let ms = Cpu.mstatus;
  const spp = (ms & MSTATUS_SPP) != 0 ? PRV_S : PRV_U;
  ms = (ms & ~MSTATUS_SIE) | ((ms & MSTATUS_SPIE) >> 4);
  ms |= MSTATUS_SPIE;
  ms &= ~(MSTATUS_SPP | MSTATUS_MPRV);
  Cpu.mstatus = ms;
  Cpu.priv = spp;
  Cpu.pc = Cpu.sepc;
  updateTlbContext();
}
