// Strata hart — physical memory protection (RISC-V privileged spec §3.7): 16 entries, granularity 4 bytes (G = 0),
// modes OFF, TOR, NA4 and NAPOT, the L bit, priority by the lowest-numbered matching entry.
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter.
//
// PMP is checked where the software TLB is filled and on the slow paths, never on a TLB hit: an entry is cached
// only when its whole 4 KiB page gets one and the same "allowed" decision for that access kind and privilege
// (pmpPageAllowed). A page that is split by PMP regions is not cached and every access to it takes the slow path,
// which checks the access itself (pmpAllowed). Writing any PMP CSR recomputes the decoded ranges and flushes the
// TLB (csr.ts), so a cached permission never outlives the configuration it was derived from.
//
// The CSRs are stored where snapshot and wasm-hart.ts expect them (PMPCFG_BASE, PMPADDR_BASE); the decoded byte
// ranges live at PMP_RANGES and are derived data (pmpSync after any change, including a snapshot restore).

import { PRV_M } from './cpu-state';
import { PMP_MEMO, PMP_RANGES, PMPADDR_BASE, PMPCFG_BASE } from './layout';

/** Implemented entries (pmpcfg0 and pmpcfg2 on RV64; pmpaddr16..63 are read-only zero, §3.7.1 allows it). */
export const PMP_ENTRIES: u32 = 16;

/** pmpcfg entry bits (privileged spec §3.7.1, Figure 3.34). */
const PMP_R: u32 = 0x01;
const PMP_W: u32 = 0x02;
const PMP_X: u32 = 0x04;
const PMP_A: u32 = 0x18;
const PMP_L: u32 = 0x80;
/** Address-matching modes (field A, Table 3.10). */
const A_OFF: u32 = 0;
const A_TOR: u32 = 1;
const A_NA4: u32 = 2;
const A_NAPOT: u32 = 3;
/** pmpaddr holds bits 55:2 of a 56-bit physical address on RV64 (§3.7.1). */
const PMPADDR_MASK: u64 = 0x003f_ffff_ffff_ffff;

/** One past the highest entry whose mode is not OFF (the checks look at entries below it only). */
let activeEntries: u32 = 0;
/** Whether any entry with a mode other than OFF is locked (only then do M-mode accesses need a check). */
let lockedActive: bool = false;

/** pmpcfg byte of entry `i` (entries 0..7 in pmpcfg0, 8..15 in pmpcfg2: consecutive bytes in memory). */
// @ts-ignore: decorator
@inline function cfgOf(i: u32): u32 {
  return <u32>load<u8>(PMPCFG_BASE + <usize>i);
}

// @ts-ignore: decorator
@inline function addrOf(i: u32): u64 {
  return load<u64>(PMPADDR_BASE + ((<usize>i) << 3));
}

/**
 * Recomputes the byte range [lo, hi) of every entry from pmpcfg/pmpaddr (§3.7.1): TOR covers
 * [pmpaddr[i-1] << 2, pmpaddr[i] << 2) (from 0 for entry 0; empty when the bounds are not increasing), NA4 the 4
 * bytes at pmpaddr << 2, NAPOT a power-of-two range given by the trailing ones of pmpaddr (k ones: 2^(k+3) bytes).
 * An entry that matches nothing gets lo = hi = 0.
 */
export function pmpSync(): void {
  pmpMemoClear();
  activeEntries = 0;
  lockedActive = false;
  let prev: u64 = 0;
  for (let i: u32 = 0; i < PMP_ENTRIES; i++) {
    const cfg = cfgOf(i);
    const a = addrOf(i) & PMPADDR_MASK;
    const mode = (cfg & PMP_A) >> 3;
    let lo: u64 = 0;
    let hi: u64 = 0;
    if (mode == A_TOR) {
      if (prev < a) {
        lo = prev << 2;
        hi = a << 2;
      }
    } else if (mode == A_NA4) {
      lo = a << 2;
      hi = lo + 4;
    } else if (mode == A_NAPOT) {
      const m = a ^ (a + 1); // the trailing ones plus the zero above them
      lo = (a & ~m) << 2;
      hi = lo + ((m + 1) << 2);
    }
    store<u64>(PMP_RANGES + ((<usize>i) << 4), lo);
    store<u64>(PMP_RANGES + ((<usize>i) << 4), hi, 8);
    if (mode != A_OFF) {
      activeEntries = i + 1;
      if ((cfg & PMP_L) != 0) lockedActive = true;
    }
    prev = a;
  }
}

/** Permission bit of pmpcfg for an access kind (0 read, 1 write, 2 fetch: mmu.ts ACC_*). */
// @ts-ignore: decorator
@inline function permBit(acc: i32): u32 {
  return acc == 0 ? PMP_R : acc == 1 ? PMP_W : PMP_X;
}

/** No page: page addresses have their low 12 bits clear. */
const MEMO_NONE: u64 = 1;

/** Forgets every remembered page (the configuration changed). */
function pmpMemoClear(): void {
  for (let i: usize = 0; i < 9; i++) store<u64>(PMP_MEMO + (i << 3), MEMO_NONE);
}

/** Memo slot of (privilege, access kind): the last 4 KiB page on which PMP allows that access everywhere. */
// @ts-ignore: decorator
@inline function memoSlot(acc: i32, prv: i32): usize {
  const p: u32 = prv == PRV_M ? 2 : <u32>prv;
  return PMP_MEMO + ((<usize>(p * 3 + <u32>acc)) << 3);
}

/**
 * The matching rule of §3.7.1 ("Priority and Matching Logic") for [pa, pa + size): the lowest-numbered entry that
 * matches any byte decides, and it must match every byte or the access fails. The entry's R/W/X apply to S and U,
 * and to M only when the entry is locked. With no matching entry, M succeeds and S/U fail (entries are
 * implemented).
 */
function pmpMatch(pa: u64, size: u64, acc: i32, prv: i32): bool {
  const end = pa + size;
  for (let i: u32 = 0; i < activeEntries; i++) {
    const r = PMP_RANGES + ((<usize>i) << 4);
    const lo = load<u64>(r);
    const hi = load<u64>(r, 8);
    if (hi <= pa || lo >= end) continue;
    if (pa < lo || end > hi) return false;
    const cfg = cfgOf(i);
    if (prv == PRV_M && (cfg & PMP_L) == 0) return true;
    return (cfg & permBit(acc)) != 0;
  }
  return prv == PRV_M;
}

/**
 * Whether an access of kind `acc` to the physical bytes [pa, pa + size) at effective privilege `prv` passes PMP.
 * An access inside one page is first checked as the whole page (which, when allowed, decides every access inside
 * it the same way: the lowest entry touching the page covers it all), and such a page is remembered per privilege
 * and access kind until the configuration changes, so page-table walks and TLB fills mostly cost one compare.
 */
export function pmpAllowed(pa: u64, size: u64, acc: i32, prv: i32): bool {
  if (prv == PRV_M && !lockedActive) return true;
  const page = pa & ~(<u64>0xfff);
  if ((pa & 0xfff) + size <= 4096) {
    const slot = memoSlot(acc, prv);
    if (load<u64>(slot) == page) return true;
    if (pmpMatch(page, 4096, acc, prv)) {
      store<u64>(slot, page);
      return true;
    }
  }
  return pmpMatch(pa, size, acc, prv);
}

/**
 * Whether every access of kind `acc` at `prv` anywhere in the 4 KiB page of `pa` passes PMP, so the page may be
 * cached in the TLB.
 */
// @ts-ignore: decorator
@inline export function pmpPageAllowed(pa: u64, acc: i32, prv: i32): bool {
  return pmpAllowed(pa & ~(<u64>0xfff), 4096, acc, prv);
}

/** pmpcfg0/pmpcfg2 value (others read zero: their entries are not implemented). */
export function pmpCfgRead(reg: u32): u64 {
  return reg < 2 ? load<u64>(PMPCFG_BASE + ((<usize>reg) << 3)) : 0;
}

/**
 * Writes pmpcfg register `reg` (0 for pmpcfg0, 1 for pmpcfg2, ...; the odd CSRs do not exist on RV64). Locked
 * entries keep their byte (§3.7.1 "Locking and Privilege Mode"); the reserved bits 6:5 read zero; the reserved
 * combination R = 0, W = 1 is stored as R = W = 0 (WARL).
 */
export function pmpCfgWrite(reg: u32, v: u64): void {
  if (reg >= 2) return;
  const base = PMPCFG_BASE + ((<usize>reg) << 3);
  for (let b: u32 = 0; b < 8; b++) {
    const old = <u32>load<u8>(base + <usize>b);
    if ((old & PMP_L) != 0) continue;
    let nb = <u32>(v >> (<u64>b << 3)) & 0x9f;
    if ((nb & (PMP_R | PMP_W)) == PMP_W) nb &= ~PMP_W;
    store<u8>(base + <usize>b, <u8>nb);
  }
  pmpSync();
}

/** pmpaddr`i` (zero for the unimplemented pmpaddr16..63). */
export function pmpAddrRead(i: u32): u64 {
  return i < PMP_ENTRIES ? addrOf(i) : 0;
}

/**
 * Writes pmpaddr`i`. Ignored when entry i is locked, or when entry i + 1 is locked and in TOR mode (its lower
 * bound is pmpaddr`i`; §3.7.1 "Locking and Privilege Mode").
 */
export function pmpAddrWrite(i: u32, v: u64): void {
  if (i >= PMP_ENTRIES) return;
  if ((cfgOf(i) & PMP_L) != 0) return;
  if (i + 1 < PMP_ENTRIES) {
    const next = cfgOf(i + 1);
    if ((next & PMP_L) != 0 && (next & PMP_A) >> 3 == A_TOR) return;
  }
  store<u64>(PMPADDR_BASE + ((<usize>i) << 3), v & PMPADDR_MASK);
  pmpSync();
}
