// Strata hart — Sv39 MMU, software TLB and physical memory access (RAM, CLINT, JavaScript MMIO).
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter.
//
// The TLB is direct-mapped with separate sets for fetch, read and write, and separate sets per context (effective
// privilege x mstatus.SUM x mstatus.MXR), so permissions are checked once when an entry is filled and a hit is one
// compare and one add. Privilege and SUM/MXR changes switch sets instead of flushing. Entries only ever point at
// RAM; MMIO, the CLINT and the HTIF tohost page always take the slow path.
//
// PMP (pmp.ts) is checked when an entry is filled and on every slow-path access: a page is cached only when PMP
// allows the access kind on the whole page at that privilege, so a hit needs no PMP check. The page-table walk's
// own PTE accesses are checked as S-mode accesses (privileged spec §3.7.2).
//
// An entry's tag is the virtual page address ORed with the TLB generation in bits 3..11. The fast path compares it
// with `(va & (~0xfff | (size - 1))) | generation`, so a misaligned access misses and takes the slow path, which
// handles accesses that cross a page (RISC-V unprivileged spec §2.6 allows misaligned accesses in hardware).

import { clintBase, clintRead, clintWrite, CLINT_SIZE } from './clint';
import { CAUSE_HTIF_STOP, Cpu, PRV_M, PRV_S, PRV_U } from './cpu-state';
import {
  TLB_BASE,
  TLB_DATA_CONTEXTS,
  TLB_FETCH_SETS,
  TLB_MASK,
  TLB_SET_BYTES,
  TLB_SETS,
} from './layout';
import { pmpAllowed, pmpPageAllowed } from './pmp';
import { RAM_BASE, RAM_OFFSET } from './state';

/** Reads `size` (1, 2, 4) bytes of MMIO at a 32-bit physical address (imported from JavaScript). */
// @ts-ignore: decorator
@external("env", "mmio_read")
declare function mmioRead(addr: u32, size: u32): u32;

/** Writes `size` (1, 2, 4) bytes of MMIO at a 32-bit physical address (imported from JavaScript). */
// @ts-ignore: decorator
@external("env", "mmio_write")
declare function mmioWrite(addr: u32, size: u32, value: u32): void;

/** Access kinds, as used for fault causes. */
export const ACC_READ: i32 = 0;
/** Store or AMO access. */
export const ACC_WRITE: i32 = 1;
/** Instruction fetch. */
export const ACC_FETCH: i32 = 2;

/** Exception causes (RISC-V privileged spec §3.1.15, Table 3.6). */
export const EXC_INSN_MISALIGNED: u64 = 0;
/** Instruction access fault. */
export const EXC_INSN_ACCESS: u64 = 1;
/** Illegal instruction. */
export const EXC_ILLEGAL: u64 = 2;
/** Breakpoint. */
export const EXC_BREAKPOINT: u64 = 3;
/** Load address misaligned. */
export const EXC_LOAD_MISALIGNED: u64 = 4;
/** Load access fault. */
export const EXC_LOAD_ACCESS: u64 = 5;
/** Store/AMO address misaligned. */
export const EXC_STORE_MISALIGNED: u64 = 6;
/** Store/AMO access fault. */
export const EXC_STORE_ACCESS: u64 = 7;
/** Environment call from U-mode (from S: +1, from M: +3). */
export const EXC_ECALL_U: u64 = 8;
/** Instruction page fault. */
export const EXC_INSN_PAGE: u64 = 12;
/** Load page fault. */
export const EXC_LOAD_PAGE: u64 = 13;
/** Store/AMO page fault. */
export const EXC_STORE_PAGE: u64 = 15;

/** mstatus bits that affect translation. */
const MSTATUS_MPRV: u64 = 1 << 17;
const MSTATUS_SUM: u64 = 1 << 18;
const MSTATUS_MXR: u64 = 1 << 19;

/** Sv39 PTE bits (RISC-V privileged spec §4.3.1, §4.4.1). */
const PTE_V: u64 = 1;
const PTE_R: u64 = 2;
const PTE_W: u64 = 4;
const PTE_X: u64 = 8;
const PTE_U: u64 = 16;
const PTE_A: u64 = 64;
const PTE_D: u64 = 128;
/** Bits 63:54: N, PBMT and reserved; must be zero without Svnapot/Svpbmt (privileged spec §4.4.1). */
const PTE_HIGH_RESERVED: u64 = 0xffc0_0000_0000_0000;

/** Records an exception for the instruction being executed. */
// @ts-ignore: decorator
@inline export function raise(cause: u64, tval: u64): void {
  Cpu.excFlag = true;
  Cpu.excCause = cause;
  Cpu.excTval = tval;
}

// @ts-ignore: decorator
@inline function pageFaultCause(acc: i32): u64 {
  return acc == ACC_READ ? EXC_LOAD_PAGE : acc == ACC_WRITE ? EXC_STORE_PAGE : EXC_INSN_PAGE;
}

// @ts-ignore: decorator
@inline function accessFaultCause(acc: i32): u64 {
  return acc == ACC_READ ? EXC_LOAD_ACCESS : acc == ACC_WRITE ? EXC_STORE_ACCESS : EXC_INSN_ACCESS;
}

/** Whether [pa, pa + size) lies inside guest RAM. */
// @ts-ignore: decorator
@inline export function inRam(pa: u64, size: u64): bool {
  const off = pa - RAM_BASE;
  return off < Cpu.ramSize && off + size <= Cpu.ramSize;
}

/** Linear-memory address of RAM physical address `pa` (caller checked inRam). */
// @ts-ignore: decorator
@inline export function ramHost(pa: u64): usize {
  return <usize>(pa - RAM_BASE) + RAM_OFFSET;
}

/** Last usable TLB generation (bits 3..11; 511 << 3 is avoided so no tag can equal an all-ones empty entry). */
const TLB_EPOCH_MAX: u64 = 510 << 3;

/**
 * Invalidates every TLB entry (satp writes, SFENCE.VMA, HTIF setup) by starting a new generation; every 510th
 * flush really clears the sets in use. A flush must end the interpreter's chunk, which caches the generation.
 */
export function tlbFlushAll(): void {
  if (Cpu.tlbEpoch < TLB_EPOCH_MAX) {
    Cpu.tlbEpoch += 8;
    return;
  }
  let used = Cpu.tlbUsed;
  while (used != 0) {
    const set = <u32>ctz(used);
    used &= used - 1;
    memory.fill(TLB_BASE + <usize>set * TLB_SET_BYTES, 0xff, TLB_SET_BYTES);
  }
  Cpu.tlbUsed = 0;
  Cpu.tlbEpoch = 8;
}

/** Empties all sets unconditionally (reset). */
export function tlbClear(): void {
  memory.fill(TLB_BASE, 0xff, <usize>TLB_SETS * TLB_SET_BYTES);
  Cpu.tlbUsed = 0;
  Cpu.tlbEpoch = 8;
}

/** Picks the TLB sets for the current privilege and mstatus (call after any change of priv or mstatus). */
export function updateTlbContext(): void {
  const ms = Cpu.mstatus;
  let eff = Cpu.priv;
  if (eff == PRV_M && (ms & MSTATUS_MPRV) != 0) eff = <i32>((ms >> 11) & 3); // privileged spec §3.1.6.3
  Cpu.dataPriv = eff;
  const pi: u32 = eff == PRV_M ? 2 : <u32>eff;
  let ctx: u32 = pi * 4;
  if (pi == 1 && (ms & MSTATUS_SUM) != 0) ctx += 2;
  if (pi < 2 && (ms & MSTATUS_MXR) != 0) ctx += 1;
  const fpi: u32 = Cpu.priv == PRV_M ? 2 : <u32>Cpu.priv;
  Cpu.fetchTlb = TLB_BASE + <usize>fpi * TLB_SET_BYTES;
  Cpu.readTlb = TLB_BASE + <usize>(TLB_FETCH_SETS + ctx) * TLB_SET_BYTES;
  Cpu.writeTlb = TLB_BASE + <usize>(TLB_FETCH_SETS + TLB_DATA_CONTEXTS + ctx) * TLB_SET_BYTES;
}

/** Address of the TLB entry for `va` in the set at `set` (entries are 16 bytes, see layout.ts). */
// @ts-ignore: decorator
@inline export function tlbEntry(set: usize, va: u64): usize {
  return set + ((<usize>(<u32>(va >> 12) & TLB_MASK)) << 4);
}

/** Caches the RAM page of `pa` for the page of `va` in `set`. */
function tlbFill(set: usize, va: u64, pa: u64): void {
  const e = tlbEntry(set, va);
  const vpage = va & ~(<u64>0xfff);
  store<u64>(e, vpage | Cpu.tlbEpoch);
  store<u32>(e, <u32>ramHost(pa & ~(<u64>0xfff)) - <u32>vpage, 8);
  Cpu.tlbUsed |= (<u32>1) << <u32>((set - TLB_BASE) / TLB_SET_BYTES);
}

/**
 * Translates `va` for an access of kind `acc` at privilege `prv` (RISC-V privileged spec §4.3.2, Sv39 §4.4).
 * Returns the physical address, or records a page/access fault and returns 0. Sets A (and D for writes) in the
 * leaf PTE in hardware (§4.3.2 step 8, Svadu behaviour).
 */
export function translate(va: u64, acc: i32, prv: i32): u64 {
  const satp = Cpu.satp;
  if (prv == PRV_M || (satp >> 60) == 0) return va;
  // Sv39: bits 63:39 must all equal bit 38 (§4.4.1).
  if (<u64>((<i64>(va << 25)) >> 25) != va) {
    raise(pageFaultCause(acc), va);
    return 0;
  }
  let a: u64 = (satp & 0xfff_ffff_ffff) << 12;
  let level: i32 = 2;
  let pte: u64 = 0;
  let pteAddr: u64 = 0;
  while (true) {
    const vpn = (va >> (12 + 9 * <u64>level)) & 0x1ff;
    pteAddr = a + (vpn << 3);
    // A PTE outside RAM or denied by PMP (the walk's accesses are S-mode accesses, privileged spec §3.7.2) is an
    // access fault of the original access type (§4.3.2 step 2).
    if (!inRam(pteAddr, 8) || !pmpAllowed(pteAddr, 8, ACC_READ, PRV_S)) {
      raise(accessFaultCause(acc), va);
      return 0;
    }
    pte = load<u64>(ramHost(pteAddr));
    if ((pte & PTE_V) == 0 || ((pte & PTE_R) == 0 && (pte & PTE_W) != 0) || (pte & PTE_HIGH_RESERVED) != 0) {
      raise(pageFaultCause(acc), va);
      return 0;
    }
    if ((pte & (PTE_R | PTE_X)) != 0) break;
    // A pointer at the last level is a page fault (§4.3.2 step 4). D, A and U of pointers are reserved for
    // software to clear; the walk ignores them, as the algorithm does.
    if (level == 0) {
      raise(pageFaultCause(acc), va);
      return 0;
    }
    level--;
    a = ((pte >> 10) & 0xfff_ffff_ffff) << 12;
  }
  // Leaf permission checks (§4.3.2 step 5).
  const ms = Cpu.mstatus;
  let ok: bool;
  if (acc == ACC_FETCH) {
    ok = (pte & PTE_X) != 0 && (prv == PRV_U ? (pte & PTE_U) != 0 : (pte & PTE_U) == 0);
  } else {
    if (acc == ACC_READ) ok = (pte & PTE_R) != 0 || ((ms & MSTATUS_MXR) != 0 && (pte & PTE_X) != 0);
    else ok = (pte & PTE_W) != 0;
    if (prv == PRV_U) ok = ok && (pte & PTE_U) != 0;
    else if ((pte & PTE_U) != 0 && (ms & MSTATUS_SUM) == 0) ok = false;
  }
  const ppn = (pte >> 10) & 0xfff_ffff_ffff;
  // Misaligned superpage (§4.3.2 step 6).
  if (level > 0 && (ppn & ((<u64>1 << (9 * <u64>level)) - 1)) != 0) ok = false;
  if (!ok) {
    raise(pageFaultCause(acc), va);
    return 0;
  }
  // A/D update (§4.3.2 step 7).
  let want: u64 = PTE_A;
  if (acc == ACC_WRITE) want |= PTE_D;
  if ((pte & want) != want) {
    // The A/D update is an S-mode store to the PTE; a PMP denial is an access fault (§4.3.2 step 7, §3.7.2).
    if (!pmpAllowed(pteAddr, 8, ACC_WRITE, PRV_S)) {
      raise(accessFaultCause(acc), va);
      return 0;
    }
    store<u64>(ramHost(pteAddr), pte | want);
  }
  const offMask: u64 = (<u64>1 << (12 + 9 * <u64>level)) - 1;
  return ((ppn << 12) & ~offMask) | (va & offMask);
}

/** Reads `size` bytes (zero-extended) at a linear-memory address of RAM. */
function readHost(h: usize, size: u32): u64 {
  if (size == 8) return load<u64>(h);
  if (size == 4) return <u64>load<u32>(h);
  if (size == 2) return <u64>load<u16>(h);
  return <u64>load<u8>(h);
}

/** Writes the low `size` bytes of `value` at a linear-memory address of RAM. */
function writeHost(h: usize, size: u32, value: u64): void {
  if (size == 8) store<u64>(h, value);
  else if (size == 4) store<u32>(h, <u32>value);
  else if (size == 2) store<u16>(h, <u16>value);
  else store<u8>(h, <u8>value);
}

/** Reads a physical address outside the TLB fast path; access fault when nothing is there. */
function physRead(pa: u64, size: u32, va: u64): u64 {
  if (inRam(pa, size)) return readHost(ramHost(pa), size);
  if (pa - clintBase < CLINT_SIZE) return clintRead(<u32>(pa - clintBase), size);
  if (pa + size <= 0x1_0000_0000) {
    if (size == 8) {
      const lo = mmioRead(<u32>pa, 4);
      const hi = mmioRead(<u32>pa + 4, 4);
      return (<u64>hi << 32) | <u64>lo;
    }
    return <u64>mmioRead(<u32>pa, size);
  }
  raise(EXC_LOAD_ACCESS, va);
  return 0;
}

/** Writes a physical address outside the TLB fast path; access fault when nothing is there. */
function physWrite(pa: u64, size: u32, value: u64, va: u64): void {
  if (inRam(pa, size)) {
    writeHost(ramHost(pa), size, value);
    return;
  }
  if (pa - clintBase < CLINT_SIZE) {
    clintWrite(<u32>(pa - clintBase), size, value);
    return;
  }
  if (pa + size <= 0x1_0000_0000) {
    if (size == 8) {
      mmioWrite(<u32>pa, 4, <u32>value);
      mmioWrite(<u32>pa + 4, 4, <u32>(value >> 32));
    } else {
      mmioWrite(<u32>pa, size, <u32>value);
    }
    return;
  }
  raise(EXC_STORE_ACCESS, va);
}

/** Whether a RAM page may be cached in a write set (the HTIF tohost page never is). */
// @ts-ignore: decorator
@inline function writeCacheable(pa: u64): bool {
  return ((pa ^ Cpu.htifAddr) & ~(<u64>0xfff)) != 0;
}

/**
 * Load slow path: TLB miss, misaligned, MMIO or page-crossing access. Returns the value zero-extended from
 * `size` bytes; on a fault records the exception and returns 0.
 */
export function loadSlow(va: u64, size: u32): u64 {
  const prv = Cpu.dataPriv;
  if ((<u32>va & 0xfff) + size > 4096) {
    // Crosses a page: translate both pages first so a fault on either leaves no side effect.
    const pa0 = translate(va, ACC_READ, prv);
    if (Cpu.excFlag) return 0;
    const va1 = (va + 4096) & ~(<u64>0xfff);
    const pa1 = translate(va1, ACC_READ, prv);
    if (Cpu.excFlag) return 0;
    // The two parts are checked as separate accesses (a misaligned access may be split, privileged spec §3.7.1).
    const n0 = <u64>(4096 - (<u32>va & 0xfff));
    if (!pmpAllowed(pa0, n0, ACC_READ, prv) || !pmpAllowed(pa1, <u64>size - n0, ACC_READ, prv)) {
      raise(EXC_LOAD_ACCESS, va);
      return 0;
    }
    let v: u64 = 0;
    for (let i: u32 = 0; i < size; i++) {
      const vb = va + i;
      const pb = ((vb ^ va) & ~(<u64>0xfff)) == 0 ? pa0 + i : pa1 + (vb - va1);
      const b = physRead(pb, 1, va);
      if (Cpu.excFlag) return 0;
      v |= b << ((<u64>i) << 3);
    }
    return v;
  }
  // A misaligned access inside one page misses the fast path's tag compare; the page may still be cached.
  const e = tlbEntry(Cpu.readTlb, va);
  if (load<u64>(e) == ((va & ~(<u64>0xfff)) | Cpu.tlbEpoch)) return readHost(<usize>(<u32>va + load<u32>(e, 8)), size);
  const pa = translate(va, ACC_READ, prv);
  if (Cpu.excFlag) return 0;
  if (!pmpAllowed(pa, size, ACC_READ, prv)) {
    raise(EXC_LOAD_ACCESS, va);
    return 0;
  }
  if (inRam(pa, size)) {
    if (pmpPageAllowed(pa, ACC_READ, prv)) tlbFill(Cpu.readTlb, va, pa);
    return physRead(pa, size, va);
  }
  if ((va & (<u64>size - 1)) != 0) {
    // Misaligned MMIO: let the firmware emulate it (privileged spec §3.6.3.4 allows this choice).
    raise(EXC_LOAD_MISALIGNED, va);
    return 0;
  }
  return physRead(pa, size, va);
}

/** Store slow path; the counterpart of loadSlow. Stops the hart for HTIF when `tohost` is written. */
export function storeSlow(va: u64, size: u32, value: u64): void {
  const prv = Cpu.dataPriv;
  if ((<u32>va & 0xfff) + size > 4096) {
    const pa0 = translate(va, ACC_WRITE, prv);
    if (Cpu.excFlag) return;
    const va1 = (va + 4096) & ~(<u64>0xfff);
    const pa1 = translate(va1, ACC_WRITE, prv);
    if (Cpu.excFlag) return;
    // Both parts pass PMP before any byte is written.
    const n0 = <u64>(4096 - (<u32>va & 0xfff));
    if (!pmpAllowed(pa0, n0, ACC_WRITE, prv) || !pmpAllowed(pa1, <u64>size - n0, ACC_WRITE, prv)) {
      raise(EXC_STORE_ACCESS, va);
      return;
    }
    for (let i: u32 = 0; i < size; i++) {
      const vb = va + i;
      const pb = ((vb ^ va) & ~(<u64>0xfff)) == 0 ? pa0 + i : pa1 + (vb - va1);
      physWrite(pb, 1, value >> ((<u64>i) << 3), va);
      if (Cpu.excFlag) return;
    }
    return;
  }
  const e = tlbEntry(Cpu.writeTlb, va);
  if (load<u64>(e) == ((va & ~(<u64>0xfff)) | Cpu.tlbEpoch)) {
    writeHost(<usize>(<u32>va + load<u32>(e, 8)), size, value);
    return;
  }
  const pa = translate(va, ACC_WRITE, prv);
  if (Cpu.excFlag) return;
  if (!pmpAllowed(pa, size, ACC_WRITE, prv)) {
    raise(EXC_STORE_ACCESS, va);
    return;
  }
  if (inRam(pa, size)) {
    if (writeCacheable(pa)) {
      if (pmpPageAllowed(pa, ACC_WRITE, prv)) tlbFill(Cpu.writeTlb, va, pa);
    } else if (pa == Cpu.htifAddr) {
      physWrite(pa, size, value, va);
      const v = size == 8 ? value : value & 0xffff_ffff;
      if (v != 0) {
        Cpu.htifValue = v;
        raise(CAUSE_HTIF_STOP, 0);
      }
      return;
    }
    physWrite(pa, size, value, va);
    return;
  }
  if ((va & (<u64>size - 1)) != 0) {
    raise(EXC_STORE_MISALIGNED, va);
    return;
  }
  physWrite(pa, size, value, va);
}

/**
 * Linear-memory address for an atomic access (LR/SC/AMO) of `size` bytes at `va`, which must be aligned and in
 * RAM. `acc` is ACC_READ for LR, ACC_WRITE for SC and AMOs (privileged spec: AMOs raise store/AMO faults).
 * Records an exception and returns 0 on failure.
 */
export function atomicHost(va: u64, size: u32, acc: i32): usize {
  if ((va & (<u64>size - 1)) != 0) {
    raise(acc == ACC_READ ? EXC_LOAD_MISALIGNED : EXC_STORE_MISALIGNED, va);
    return 0;
  }
  const set = acc == ACC_READ ? Cpu.readTlb : Cpu.writeTlb;
  const e = tlbEntry(set, va);
  if (load<u64>(e) == ((va & ~(<u64>0xfff)) | Cpu.tlbEpoch)) return <usize>(<u32>va + load<u32>(e, 8));
  const prv = Cpu.dataPriv;
  const pa = translate(va, acc, prv);
  if (Cpu.excFlag) return 0;
  if (!inRam(pa, size) || (acc == ACC_WRITE && pa == Cpu.htifAddr) || !pmpAllowed(pa, size, acc, prv)) {
    raise(acc == ACC_READ ? EXC_LOAD_ACCESS : EXC_STORE_ACCESS, va);
    return 0;
  }
  if ((acc == ACC_READ || writeCacheable(pa)) && pmpPageAllowed(pa, acc, prv)) tlbFill(set, va, pa);
  return ramHost(pa);
}

/**
 * Fetch translation for the page of `pc`: returns the addend that turns a pc of that page into a linear-memory
 * address. On a fault records the exception (tval = pc) and returns 0. `Cpu.fetchUncached` tells the interpreter
 * whether it must look closer: it is false when the page is cached (the interpreter keeps the addend for the whole
 * page), true after a fault or when PMP splits the page. One flag for both keeps the interpreter's common path to a
 * single test (bench/hart-mips.ts measured a select on it at -5%).
 */
export function fetchAddend(pc: u64): u32 {
  const set = Cpu.fetchTlb;
  const e = tlbEntry(set, pc);
  Cpu.fetchUncached = false;
  if (load<u64>(e) == ((pc & ~(<u64>0xfff)) | Cpu.tlbEpoch)) return load<u32>(e, 8);
  const prv = Cpu.priv;
  Cpu.fetchUncached = true;
  const pa = translate(pc, ACC_FETCH, prv);
  if (Cpu.excFlag) return 0;
  if (!inRam(pa, 2) || !pmpAllowed(pa, 2, ACC_FETCH, prv)) {
    raise(EXC_INSN_ACCESS, pc);
    return 0;
  }
  if (pmpPageAllowed(pa, ACC_FETCH, prv)) {
    Cpu.fetchUncached = false;
    tlbFill(set, pc, pa);
    return load<u32>(e, 8);
  }
  // The page is split by PMP (fetchUncached stays true: the interpreter does not keep the page for the next
  // instruction). Check this instruction's second parcel too; a fault there reports its address (§3.1.16).
  if ((load<u16>(ramHost(pa)) & 3) == 3 && (<u32>pa & 0xfff) != 0xffe && !pmpAllowed(pa + 2, 2, ACC_FETCH, prv)) {
    raise(EXC_INSN_ACCESS, pc + 2);
    return 0;
  }
  return <u32>ramHost(pa & ~(<u64>0xfff)) - <u32>(pc & ~(<u64>0xfff));
}

/** Upper 16 bits of a 32-bit instruction that starts at the last halfword of a page. */
export function fetchHigh(pc: u64): u32 {
  const va = pc + 2;
  const pa = translate(va, ACC_FETCH, Cpu.priv);
  if (Cpu.excFlag) return 0;
  if (!inRam(pa, 2) || !pmpAllowed(pa, 2, ACC_FETCH, Cpu.priv)) {
    raise(EXC_INSN_ACCESS, va);
    return 0;
  }
  return <u32>load<u16>(ramHost(pa));
}
