/**
 * The saved state of a hart (registers, CSRs, CLINT timer of the hart), as a plain, versioned, JSON-safe object:
 * 64-bit values are `0x` + 16 lowercase hex digits, so no BigInt is needed and nothing loses precision. Guest RAM
 * is not part of it (the machine saves RAM).
 */
import { StrataError } from '../../base/errors.js';

/** Current version of {@link HartState}. */
export const HART_STATE_VERSION = 1;

/**
 * The named scalar fields of a hart snapshot, in the order of the slots of assembly/snapshot.ts. `mtime` is the
 * guest time at the save; a restore continues from it whatever the host clock reads.
 */
export const HART_STATE_FIELDS = [
  'pc',
  'priv',
  'mstatus',
  'medeleg',
  'mideleg',
  'mie',
  'mipSoftware',
  'mtvec',
  'stvec',
  'mscratch',
  'sscratch',
  'mepc',
  'sepc',
  'mcause',
  'scause',
  'mtval',
  'stval',
  'mcounteren',
  'scounteren',
  'mcountinhibit',
  'satp',
  'mcycle',
  'minstret',
  'instructionsExecuted',
  'msip',
  'mtimecmp',
  'mtime',
  'instructionsPerTick',
  'mhartid',
  'htifToHostAddress',
  'htifToHostValue',
  'frm',
  'fflags',
  'externalInterruptLines',
  'reservationValid',
  'reservationAddress',
] as const;

/** A named scalar field of {@link HartState}. */
export type HartStateField = (typeof HART_STATE_FIELDS)[number];

/** A saved hart. */
export interface HartState {
  readonly version: typeof HART_STATE_VERSION;
  /** x0..x31 by register number. */
  readonly x: readonly string[];
  /** f0..f31 by register number (raw bit patterns). */
  readonly f: readonly string[];
  /** pmpcfg0, pmpcfg2, ..., pmpcfg14 (RV64 has only the even ones). */
  readonly pmpcfg: readonly string[];
  /** pmpaddr0..pmpaddr63. */
  readonly pmpaddr: readonly string[];
  readonly fields: Readonly<Record<HartStateField, string>>;
}

/** Formats a 64-bit value given as unsigned halves. */
export function u64Hex(lo: number, hi: number): string {
  return `0x${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}

const HEX64 = /^0x[0-9a-f]{16}$/;

/** Parses a value made by u64Hex into [lo, hi]; throws INVALID_ARGUMENT naming `what` for anything else. */
export function parseU64Hex(value: unknown, what: string): [number, number] {
  if (typeof value !== 'string' || !HEX64.test(value)) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `hart state: ${what} is ${JSON.stringify(value)}, not 0x + 16 hex digits`,
    );
  }
  return [Number.parseInt(value.slice(10), 16), Number.parseInt(value.slice(2, 10), 16)];
}

/** Checks the shape of a state before anything is written into a hart. */
export function validateHartState(state: HartState): void {
  if (state.version !== HART_STATE_VERSION) {
    throw new StrataError(
      'INVALID_ARGUMENT',
      `hart state version ${String(state.version)} is not ${HART_STATE_VERSION}`,
    );
  }
  const lists: Array<[string, readonly string[], number]> = [
    ['x', state.x, 32],
    ['f', state.f, 32],
    ['pmpcfg', state.pmpcfg, 8],
    ['pmpaddr', state.pmpaddr, 64],
  ];
  for (const [name, list, n] of lists) {
    if (!Array.isArray(list) || list.length !== n) {
      throw new StrataError('INVALID_ARGUMENT', `hart state: ${name} must list ${n} values`);
    }
    list.forEach((v, i) => {
      parseU64Hex(v, `${name}[${i}]`);
    });
  }
  for (const name of HART_STATE_FIELDS) parseU64Hex(state.fields?.[name], name);
}
