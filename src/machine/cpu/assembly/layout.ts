// Strata hart — linear-memory layout of the hart-private region (after the registers of state.ts).
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter.

import { STATE_BASE } from './state';

/**
 * External interrupt lines (u32 bit 0 = MEIP, bit 1 = SEIP), at a fixed address so a device thread can set them
 * with Atomics on the shared memory; the hart samples them between instruction chunks.
 */
export const IRQ_LINES: usize = STATE_BASE + 0x200;
/** pmpcfg0, pmpcfg2, ... pmpcfg14: 8 x u64 (RV64 has only the even-numbered pmpcfg registers). */
export const PMPCFG_BASE: usize = STATE_BASE + 0x300;
/** pmpaddr0..63: 64 x u64. */
export const PMPADDR_BASE: usize = STATE_BASE + 0x400;
/** Decoded PMP ranges (pmp.ts): 16 x (u64 lo, u64 hi), derived from the CSRs above. */
export const PMP_RANGES: usize = STATE_BASE + 0x600;
/** PMP memo (pmp.ts): 9 x u64, the last page fully allowed per (privilege U/S/M, access kind). */
export const PMP_MEMO: usize = STATE_BASE + 0x700;

/** log2 of the number of entries in one direct-mapped TLB set. */
export const TLB_BITS: u32 = 10;
/** Entries per TLB set. */
export const TLB_ENTRIES: u32 = 1 << TLB_BITS;
/** Index mask for a TLB set. */
export const TLB_MASK: u32 = TLB_ENTRIES - 1;
/** Bytes of one TLB entry: u64 tag (virtual page | generation << 3; all ones = empty) then u32 host addend. */
export const TLB_ENTRY_BYTES: u32 = 16;
/** Bytes of one TLB set. */
export const TLB_SET_BYTES: u32 = TLB_ENTRIES * TLB_ENTRY_BYTES;
/** Fetch sets: one per privilege (U, S, M). */
export const TLB_FETCH_SETS: u32 = 3;
/** Data contexts: (effective privilege U/S/M) x SUM x MXR, each with a read and a write set. */
export const TLB_DATA_CONTEXTS: u32 = 12;
/** Total TLB sets: fetch, then read contexts, then write contexts. */
export const TLB_SETS: u32 = TLB_FETCH_SETS + 2 * TLB_DATA_CONTEXTS;
/** First TLB set. */
export const TLB_BASE: usize = STATE_BASE + 0x1000;

/** Expansion table of the C extension: 65536 x u32, the 32-bit equivalent of each 16-bit instruction (0 = illegal). */
export const RVC_TABLE: usize = STATE_BASE + 0x8_0000;
