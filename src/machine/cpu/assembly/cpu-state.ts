// Strata hart — architectural and bookkeeping state that is not in linear memory (wasm globals are the fastest
// storage the interpreter has). Static fields of one class so that every module of the hart can assign them.
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter.

/** Privilege level encodings (RISC-V privileged spec §1.2). */
export const PRV_U: i32 = 0;
/** Supervisor mode. */
export const PRV_S: i32 = 1;
/** Machine mode. */
export const PRV_M: i32 = 3;

/** Why the interpreter left `run()`; mirrors `StopReason` of hart-port.ts. */
export const STOP_NONE: i32 = -1;
/** StopReason.Budget. */
export const STOP_BUDGET: i32 = 0;
/** StopReason.Wfi. */
export const STOP_WFI: i32 = 1;
/** StopReason.Htif. */
export const STOP_HTIF: i32 = 2;
/** StopReason.Fault. */
export const STOP_FAULT: i32 = 3;

/** Pseudo exception cause used by the store path to ask the loop to stop for HTIF (never reaches the guest). */
export const CAUSE_HTIF_STOP: u64 = 0xffff;

/** The state of hart 0. */
export class Cpu {
  /** Program counter, valid whenever the interpreter is not inside its inner loop. */
  static pc: u64 = 0;
  /** Current privilege level (PRV_U, PRV_S or PRV_M). */
  static priv: i32 = PRV_M;
  /** mhartid. */
  static hartId: u64 = 0;

  /** mstatus without SD, UXL and SXL (those are computed on read). */
  static mstatus: u64 = 0;
  static medeleg: u64 = 0;
  static mideleg: u64 = 0;
  static mie: u64 = 0;
  /** Software-writable bits of mip (SSIP, STIP, SEIP); MSIP, MTIP, MEIP and the SEIP line are added on read. */
  static mipSw: u64 = 0;
  static mtvec: u64 = 0;
  static stvec: u64 = 0;
  static mscratch: u64 = 0;
  static sscratch: u64 = 0;
  static mepc: u64 = 0;
  static sepc: u64 = 0;
  static mcause: u64 = 0;
  static scause: u64 = 0;
  static mtval: u64 = 0;
  static stval: u64 = 0;
  static mcounteren: u64 = 0;
  static scounteren: u64 = 0;
  static mcountinhibit: u64 = 0;
  static satp: u64 = 0;

  /** mcycle and minstret as last retired (instructions of the running chunk are added on read). */
  static mcycle: u64 = 0;
  static minstret: u64 = 0;
  /** Every instruction executed since reset (drives the deterministic clock and `instret()` of the port). */
  static instretTotal: u64 = 0;
  /** Instructions already executed in the running chunk, published before SYSTEM instructions. */
  static inFlight: u64 = 0;

  /** CLINT msip of this hart (bit 0). */
  static msip: u32 = 0;
  /** CLINT mtimecmp of this hart; all ones after reset so no timer interrupt is pending. */
  static mtimecmp: u64 = 0xffff_ffff_ffff_ffff;
  /** mtime = clock + mtimeOffset (writes to mtime adjust the offset). */
  static mtimeOffset: u64 = 0;
  /** 0: mtime follows the host clock; N > 0: mtime advances one tick per N instructions (deterministic). */
  static instrPerTick: u64 = 0;
  /**
   * Timer poll (clint.ts mtipPolled): instretTotal, mtimecmp and mtimeOffset when the host clock last said the
   * timer was not due. Until TIMER_POLL_INSTRUCTIONS more instructions ran, or mtimecmp or mtime changed, the
   * interrupt check between chunks does not read the host clock again.
   */
  static pollFrom: u64 = 0;
  static pollCmp: u64 = 0;
  static pollOffset: u64 = 0;

  /** An exception is pending for the instruction being executed (set by memory and CSR paths). */
  static excFlag: bool = false;
  static excCause: u64 = 0;
  static excTval: u64 = 0;

  /** LR/SC reservation (RISC-V unprivileged spec §13.2). */
  static resValid: bool = false;
  static resAddr: u64 = 0;

  /** TLB sets for the current context: fetch (by privilege), data read and data write (by effective privilege). */
  static fetchTlb: usize = 0;
  static readTlb: usize = 0;
  static writeTlb: usize = 0;
  /** Set by fetchAddend after a fetch fault or when PMP splits the page of the pc (check every fetch on it). */
  static fetchUncached: bool = false;
  /** Effective privilege of loads and stores (mstatus.MPRV applied). */
  static dataPriv: i32 = PRV_M;
  /** Bit per TLB set that may hold entries (so a real clear only touches sets in use). */
  static tlbUsed: u32 = 0;
  /**
   * TLB generation, kept in bits 3..11 of every tag (bits a masked virtual address never has set), so a flush is
   * usually just a new generation; the sets are really cleared only when the generation wraps.
   */
  static tlbEpoch: u64 = 8;

  /** Guest RAM size in bytes. */
  static ramSize: u64 = 0;

  /** HTIF tohost physical address, or all ones when HTIF is off. */
  static htifAddr: u64 = 0xffff_ffff_ffff_ffff;
  static htifValue: u64 = 0;

  /** Stop reason requested from inside the loop (STOP_NONE while running). */
  static stop: i32 = STOP_NONE;
  /** Details of a STOP_FAULT: the cause and pc of the trap that could not be delivered. */
  static faultCause: u64 = 0;
  static faultPc: u64 = 0;

  /** High half of the last 64-bit value returned through an i32 export. */
  static hiResult: u32 = 0;
}
