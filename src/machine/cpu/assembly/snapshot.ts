// Strata hart — save and restore of the architectural state for VM snapshots. The state goes through a fixed
// table of u64 slots in linear memory (SNAPSHOT_BASE); wasm-hart.ts names every slot (HART_SNAPSHOT_FIELDS) and
// turns the table into a versioned plain object. The slot order here and there must match.
//
// HOT-LOOP EXCEPTION (docs/architecture.md): part of the CPU interpreter.

import { mtimeNow } from './clint';
import { Cpu } from './cpu-state';
import { IRQ_LINES, PMPADDR_BASE, PMPCFG_BASE } from './layout';
import { tlbClear, updateTlbContext } from './mmu';
import { pmpSync } from './pmp';
import { fflags, frm, setFflags, setFrm, STATE_BASE } from './state';

/** Where the snapshot slots live (u64 each); x and f registers and PMP are saved from their own places. */
export const SNAPSHOT_BASE: usize = STATE_BASE + 0x800;
/** Number of slots written by saveState. */
export const SNAPSHOT_SLOTS: u32 = 36;

// @ts-ignore: decorator
@inline function slot(i: u32): usize {
  return SNAPSHOT_BASE + ((<usize>i) << 3);
}

/** Writes the CSR and bookkeeping state into the snapshot slots (registers and PMP stay where they are). */
export function saveState(): void {
  store<u64>(slot(0), Cpu.pc);
  store<u64>(slot(1), <u64>Cpu.priv);
  store<u64>(slot(2), Cpu.mstatus);
  store<u64>(slot(3), Cpu.medeleg);
  store<u64>(slot(4), Cpu.mideleg);
  store<u64>(slot(5), Cpu.mie);
  store<u64>(slot(6), Cpu.mipSw);
  store<u64>(slot(7), Cpu.mtvec);
  store<u64>(slot(8), Cpu.stvec);
  store<u64>(slot(9), Cpu.mscratch);
  store<u64>(slot(10), Cpu.sscratch);
  store<u64>(slot(11), Cpu.mepc);
  store<u64>(slot(12), Cpu.sepc);
  store<u64>(slot(13), Cpu.mcause);
  store<u64>(slot(14), Cpu.scause);
  store<u64>(slot(15), Cpu.mtval);
  store<u64>(slot(16), Cpu.stval);
  store<u64>(slot(17), Cpu.mcounteren);
  store<u64>(slot(18), Cpu.scounteren);
  store<u64>(slot(19), Cpu.mcountinhibit);
  store<u64>(slot(20), Cpu.satp);
  store<u64>(slot(21), Cpu.mcycle);
  store<u64>(slot(22), Cpu.minstret);
  store<u64>(slot(23), Cpu.instretTotal);
  store<u64>(slot(24), <u64>Cpu.msip);
  store<u64>(slot(25), Cpu.mtimecmp);
  store<u64>(slot(26), mtimeNow());
  store<u64>(slot(27), Cpu.instrPerTick);
  store<u64>(slot(28), Cpu.hartId);
  store<u64>(slot(29), Cpu.htifAddr);
  store<u64>(slot(30), Cpu.htifValue);
  store<u64>(slot(31), <u64>frm);
  store<u64>(slot(32), <u64>fflags);
  store<u64>(slot(33), <u64>load<u32>(IRQ_LINES));
  store<u64>(slot(34), Cpu.resValid ? 1 : 0);
  store<u64>(slot(35), Cpu.resAddr);
}

/**
 * Restores the state written by saveState (possibly by another instance). mtime continues from the saved value
 * whatever the clock now reads. The TLB starts empty.
 */
export function loadState(): void {
  Cpu.pc = load<u64>(slot(0));
  const prv = <i32>load<u64>(slot(1));
  Cpu.priv = prv == 0 || prv == 1 ? prv : 3;
  Cpu.mstatus = load<u64>(slot(2));
  Cpu.medeleg = load<u64>(slot(3));
  Cpu.mideleg = load<u64>(slot(4));
  Cpu.mie = load<u64>(slot(5));
  Cpu.mipSw = load<u64>(slot(6));
  Cpu.mtvec = load<u64>(slot(7));
  Cpu.stvec = load<u64>(slot(8));
  Cpu.mscratch = load<u64>(slot(9));
  Cpu.sscratch = load<u64>(slot(10));
  Cpu.mepc = load<u64>(slot(11));
  Cpu.sepc = load<u64>(slot(12));
  Cpu.mcause = load<u64>(slot(13));
  Cpu.scause = load<u64>(slot(14));
  Cpu.mtval = load<u64>(slot(15));
  Cpu.stval = load<u64>(slot(16));
  Cpu.mcounteren = load<u64>(slot(17));
  Cpu.scounteren = load<u64>(slot(18));
  Cpu.mcountinhibit = load<u64>(slot(19));
  Cpu.satp = load<u64>(slot(20));
  Cpu.mcycle = load<u64>(slot(21));
  Cpu.minstret = load<u64>(slot(22));
  Cpu.instretTotal = load<u64>(slot(23));
  Cpu.msip = <u32>load<u64>(slot(24)) & 1;
  Cpu.mtimecmp = load<u64>(slot(25));
  Cpu.instrPerTick = load<u64>(slot(27));
  Cpu.inFlight = 0;
  Cpu.mtimeOffset = 0;
  Cpu.mtimeOffset = load<u64>(slot(26)) - mtimeNow();
  Cpu.hartId = load<u64>(slot(28));
  Cpu.htifAddr = load<u64>(slot(29));
  Cpu.htifValue = load<u64>(slot(30));
  setFrm(<u32>load<u64>(slot(31)));
  setFflags(<u32>load<u64>(slot(32)));
  store<u32>(IRQ_LINES, <u32>load<u64>(slot(33)) & 3);
  Cpu.resValid = load<u64>(slot(34)) != 0;
  Cpu.resAddr = load<u64>(slot(35));
  Cpu.excFlag = false;
  Cpu.stop = -1;
  pmpSync();
  tlbClear();
  updateTlbContext();
}

/** Linear-memory address of pmpcfg0 (8 x u64, then pmpaddr0..63 at pmpAddressBase). */
export function pmpConfigBase(): u32 {
  return <u32>PMPCFG_BASE;
}

/** Linear-memory address of pmpaddr0. */
export function pmpAddressBase(): u32 {
  return <u32>PMPADDR_BASE;
}
