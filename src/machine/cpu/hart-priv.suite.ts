// Conformance suite for any HartPort implementation: privileged architecture, MMU, atomics, interrupts, MMIO.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type MmioHandler, StopReason } from './hart-port.js';
import {
  assemble,
  type HartFactory,
  LOG,
  logEntry,
  M_LOGGING_HANDLER,
  type MmioLog,
  makeHart,
  RAM_BASE,
  ramU64,
  reg64,
  runProgram,
  TOHOST,
  writeRamU64,
} from './hart-test-kit.suite.js';

/** Registers the privileged-architecture tests for harts made by `factory`. */
export function hartPrivSuite(factory: HartFactory): void {
  test('traps: ECALL from M/S/U, delegation to S, SRET/MRET, illegal instruction from U', () => {
    const h = runProgram(
      factory,
      `
      .option norvc
      PMP_OPEN
      la t0, mtrap2
      csrw mtvec, t0
      la t0, strap
      csrw stvec, t0
      li t0, 1 << 8
      csrw medeleg, t0
      li t0, 3 << 11
      csrc mstatus, t0
      li t0, 1 << 11
      csrs mstatus, t0
      la t0, s_code
      csrw mepc, t0
      mret
  s_code:
      ecall
      li t0, 1 << 8
      csrc sstatus, t0
      la t0, u_code
      csrw sepc, t0
      sret
  u_code:
      ecall
      csrr t0, mstatus
      FAIL 1
  .balign 4
  strap:
      csrr s0, scause
      csrr s1, sstatus
      csrr t0, sepc
      addi t0, t0, 4
      csrw sepc, t0
      sret
  .balign 4
  mtrap2:
      csrr t4, mcause
      li t5, 9
      bne t4, t5, 2f
      csrr s2, mstatus
      csrr t4, mepc
      addi t4, t4, 4
      csrw mepc, t4
      mret
  2:  mv s3, t4
      csrr s4, mtval
      csrr s5, mstatus
      EXIT
    `,
    );
    assert.equal(h.getReg(8), 8, 'scause = ECALL from U');
    assert.equal(h.getReg(9) & 0x100, 0, 'SPP = U');
    assert.equal(h.getReg(18) & 0x1800, 0x800, 'MPP = S after ECALL from S');
    assert.equal(h.getReg(19), 2, 'illegal instruction from U goes to M');
    assert.equal(h.getRegLo(20), 0x300022f3, 'mtval = instruction bits');
    assert.equal(h.getReg(21) & 0x1800, 0, 'MPP = U');
  });

  test('Sv39: 4 KiB pages, superpages, A/D updates, page faults with cause and tval, SUM', () => {
    const ROOT = 0x8010_0000;
    const L1 = 0x8010_1000;
    const L0 = 0x8010_2000;
    const pte = (pa: number, flags: number): number => (pa / 4096) * 1024 + flags;
    const V = 1,
      R = 2,
      W = 4,
      X = 8,
      U = 16,
      A = 64,
      D = 128;
    const h = runProgram(
      factory,
      `
      .option norvc
      PMP_OPEN
      li a7, 0
      la t0, mtrap
      csrw mtvec, t0
      li t0, (8 << 60) | (${ROOT} >> 12)
      csrw satp, t0
      li t0, 3 << 11
      csrc mstatus, t0
      li t0, 1 << 11
      csrs mstatus, t0
      la t0, s_code
      csrw mepc, t0
      mret
  s_code:
      li s0, 0x40000000
      li t0, 0x1111
      sd t0, 0(s0)
      ld s1, 0(s0)
      li s2, 0x40001000
      ld s3, 8(s2)
      li s2, 0x40005000
      sd t0, 16(s2)
      li s2, 0x40002000
      ld s3, 24(s2)
      li s6, 0x40200008
      sd t0, 0(s6)
      ld s7, 0(s6)
      li t2, 0x40400000
      ld t1, 0(t2)
      li t2, 0x40003000
      sd t0, 0(t2)
      ld s8, 0(t2)
      li t2, 0x40004000
      ld t1, 0(t2)
      li t1, 1 << 18
      csrs sstatus, t1
      ld s9, 0(t2)
      sfence.vma
      li t2, 0x4000000000
      ld t1, 0(t2)
      ecall
      ${M_LOGGING_HANDLER}
    `,
      {
        ramBytes: 16 << 20,
        setup: (hh) => {
          writeRamU64(hh, ROOT + 2 * 8, pte(0x8000_0000, V | R | W | X | A | D)); // identity gigapage for code
          writeRamU64(hh, ROOT + 1 * 8, pte(L1, V));
          writeRamU64(hh, L1 + 0 * 8, pte(L0, V));
          writeRamU64(hh, L1 + 1 * 8, pte(0x8040_0000, V | R | W | A | D)); // 2 MiB superpage
          writeRamU64(hh, L1 + 2 * 8, pte(0x8040_1000, V | R | W | A | D)); // misaligned superpage
          writeRamU64(hh, L0 + 0 * 8, pte(0x8020_0000, V | R | W | A | D));
          writeRamU64(hh, L0 + 1 * 8, pte(0x8020_1000, V | R | W));
          writeRamU64(hh, L0 + 3 * 8, pte(0x8020_3000, V | R | A));
          writeRamU64(hh, L0 + 4 * 8, pte(0x8020_4000, V | R | W | U | A | D));
          writeRamU64(hh, L0 + 5 * 8, pte(0x8020_5000, V | R | W));
          writeRamU64(hh, 0x8020_3000, 0x33);
          writeRamU64(hh, 0x8020_4000, 0x77);
        },
      },
    );
    assert.equal(h.getReg(9), 0x1111);
    assert.deepEqual(ramU64(h, 0x8020_0000), [0x1111, 0]);
    // A set by the load, D not; A and D set by the store.
    assert.equal(ramU64(h, L0 + 8)[0] & (A | D), A);
    assert.equal(ramU64(h, L0 + 5 * 8)[0] & (A | D), A | D);
    assert.deepEqual(ramU64(h, 0x8040_0008), [0x1111, 0]);
    assert.equal(h.getReg(23), 0x1111);
    assert.equal(h.getReg(24), 0x33);
    assert.equal(h.getReg(25), 0x77);
    const faults = [0, 1, 2, 3, 4, 5].map((i) => logEntry(h, i));
    assert.deepEqual(faults[0], { cause: [13, 0], tval: [0x4000_2018, 0] }, 'unmapped page');
    assert.deepEqual(faults[1], { cause: [13, 0], tval: [0x4040_0000, 0] }, 'misaligned superpage');
    assert.deepEqual(faults[2], { cause: [15, 0], tval: [0x4000_3000, 0] }, 'store to read-only page');
    assert.deepEqual(faults[3], { cause: [13, 0], tval: [0x4000_4000, 0] }, 'U page from S without SUM');
    assert.deepEqual(faults[4], { cause: [13, 0], tval: [0, 0x40] }, 'non-canonical address');
    assert.deepEqual(faults[5]!.cause, [9, 0], 'ecall from S');
  });

  test('LR/SC and AMOs (W and D), misaligned AMO traps', () => {
    const h = runProgram(
      factory,
      `
      .option norvc
      li a7, 0
      la t0, mtrap
      csrw mtvec, t0
      li s0, 0x80020000
      li t0, 5
      sd t0, 0(s0)
      li t1, 3
      amoadd.d s1, t1, (s0)
      amoswap.w s2, t1, (s0)
      li t1, -4
      amomax.w s3, t1, (s0)
      amominu.w s4, t1, (s0)
      amomin.d s5, t1, (s0)
      lr.d s6, (s0)
      addi s6, s6, 10
      sc.d s7, s6, (s0)
      sc.d s8, s6, (s0)
      ld s9, 0(s0)
      li t1, 0xf0
      amoor.d zero, t1, (s0)
      amoxor.w zero, t1, (s0)
      li t1, 0xff
      amoand.d s10, t1, (s0)
      ld s11, 0(s0)
      li t2, 0x80020004
      amoadd.d zero, t1, (t2)
      li t2, 0x80020002
      lr.w zero, (t2)
      li t3, ${LOG}
      ecall
      ${M_LOGGING_HANDLER}
    `,
    );
    assert.equal(h.getReg(9), 5);
    assert.equal(h.getReg(18), 8);
    assert.equal(h.getReg(19), 3);
    assert.equal(h.getReg(20), 3);
    assert.equal(h.getReg(21), 3);
    assert.equal(h.getReg(22), -4 + 10);
    assert.equal(h.getReg(23), 0);
    assert.equal(h.getReg(24), 1);
    assert.equal(h.getReg(25), 6);
    assert.equal(h.getReg(27), 6 & 0xff);
    assert.deepEqual(logEntry(h, 0), { cause: [6, 0], tval: [0x8002_0004, 0] });
    assert.deepEqual(logEntry(h, 1), { cause: [4, 0], tval: [0x8002_0002, 0] });
  });

  test('MMIO reaches the handler; 8-byte accesses split low word first; high addresses fault', () => {
    const log: MmioLog = { reads: [], writes: [] };
    const mmio: MmioHandler = {
      read: (addr, size) => {
        log.reads.push([addr, size]);
        return addr === 0x1000_0004 ? 0xabcd : addr & 0xffff;
      },
      write: (addr, size, value) => {
        log.writes.push([addr, size, value]);
      },
    };
    const h = runProgram(
      factory,
      `
      .option norvc
      li a7, 0
      la t0, mtrap
      csrw mtvec, t0
      li s0, 0x10000000
      li t1, 0x41
      sb t1, 0(s0)
      lw s1, 4(s0)
      li t2, 0x1122334455667788
      sd t2, 8(s0)
      ld s2, 16(s0)
      li t2, 0x100000000
      lw s3, 0(t2)
      ecall
      ${M_LOGGING_HANDLER}
    `,
      { mmio },
    );
    assert.deepEqual(log.writes, [
      [0x1000_0000, 1, 0x41],
      [0x1000_0008, 4, 0x55667788],
      [0x1000_000c, 4, 0x11223344],
    ]);
    assert.deepEqual(log.reads, [
      [0x1000_0004, 4],
      [0x1000_0010, 4],
      [0x1000_0014, 4],
    ]);
    assert.equal(h.getReg(9), 0xabcd);
    assert.deepEqual(reg64(h, 18), [0x10, 0x14]);
    assert.deepEqual(logEntry(h, 0), { cause: [5, 0], tval: [0, 1] });
  });

  test('timer interrupt through the CLINT with the deterministic clock, WFI skips to the deadline', () => {
    const h = runProgram(
      factory,
      `
      .option norvc
      la t0, mtrap
      csrw mtvec, t0
      li t1, 0x0200bff8
      ld s0, 0(t1)
      addi t2, s0, 500
      li t3, 0x02004000
      sd t2, 0(t3)
      li t0, 0x80
      csrs mie, t0
      csrsi mstatus, 8
  1:  wfi
      j 1b
  .balign 4
  mtrap:
      csrr s1, mcause
      li t1, 0x0200bff8
      ld s2, 0(t1)
      li t2, -1
      li t3, 0x02004000
      sd t2, 0(t3)
      EXIT
    `,
      { instructionsPerTick: 1 },
    );
    assert.deepEqual(reg64(h, 9), [7, 0x8000_0000]);
    assert.ok(h.getReg(18) - h.getReg(8) >= 500);
  });

  test('WFI stops the hart until the (host-clock) timer is due; ticksUntilTimer reports the wait', () => {
    let now = 1_000_000;
    const hart = makeHart(factory, { ramBytes: 1 << 20, nowTicks: () => now });
    hart.ram.set(
      assemble(`
      .option norvc
      la t0, mtrap
      csrw mtvec, t0
      li t1, 0x0200bff8
      ld s0, 0(t1)
      li t0, 10000
      add t2, s0, t0
      li t3, 0x02004000
      sd t2, 0(t3)
      li t0, 0x80
      csrs mie, t0
      csrsi mstatus, 8
  1:  wfi
      j 1b
  .balign 4
  mtrap:
      csrr s1, mcause
      EXIT
    `),
      0,
    );
    hart.reset(RAM_BASE);
    hart.setHtif(TOHOST);
    assert.equal(hart.run(10_000), StopReason.Wfi);
    assert.equal(hart.ticksUntilTimer(), 10_000);
    assert.equal(hart.run(10_000), StopReason.Wfi);
    now += 10_000;
    assert.equal(hart.ticksUntilTimer(), 0);
    assert.equal(hart.run(10_000), StopReason.Htif);
    assert.equal(hart.getRegHi(9), 0x8000_0000);
    assert.equal(hart.getRegLo(9), 7);
  });

  test('external and software interrupts: MEIP from the PLIC line, SEIP delegated to S, MSIP via the CLINT', () => {
    const hart = makeHart(factory);
    hart.ram.set(
      assemble(`
      .option norvc
      PMP_OPEN
      li a7, 0
      la t0, mtrap
      csrw mtvec, t0
      la t0, strap
      csrw stvec, t0
      li t0, 0x200
      csrw mideleg, t0
      li t0, 0xa08
      csrs mie, t0
      csrsi mstatus, 8
      li t1, 0x02000000
      li t2, 1
      sw t2, 0(t1)
      nop
      nop
      li t0, 3 << 11
      csrc mstatus, t0
      li t0, 1 << 11
      csrs mstatus, t0
      la t0, s_code
      csrw mepc, t0
      mret
  s_code:
      csrsi sstatus, 2
  1:  j 1b
  .balign 4
  strap:
      csrr s2, scause
      EXIT
  .balign 4
  mtrap:
      csrr t4, mcause
      li t3, ${LOG}
      slli t5, a7, 3
      add t3, t3, t5
      sd t4, 0(t3)
      addi a7, a7, 1
      li t1, 0x02000000
      sw zero, 0(t1)
      mret
    `),
      0,
    );
    hart.reset(RAM_BASE);
    hart.setHtif(TOHOST);
    assert.equal(hart.run(5_000), StopReason.Budget);
    assert.deepEqual(ramU64(hart, LOG), [3, 0x8000_0000], 'MSI taken in M');
    hart.setExternalInterrupt('machine', true);
    hart.run(100);
    assert.deepEqual(ramU64(hart, LOG + 8), [11, 0x8000_0000], 'MEI taken in M (not delegated)');
    hart.setExternalInterrupt('machine', false);
    hart.setExternalInterrupt('supervisor', true);
    assert.equal(hart.run(5_000), StopReason.Htif);
    assert.equal(hart.getRegHi(18), 0x8000_0000);
    assert.equal(hart.getRegLo(18), 9);
    assert.equal(hart.privilege(), 1);
  });

  test('illegal instructions: reserved compressed encodings and unknown opcodes carry the bits in mtval', () => {
    const h = runProgram(
      factory,
      `
      .option norvc
      li a7, 0
      la t0, mtrap
      csrw mtvec, t0
      .word 0x0000000b
      .half 0x4002
      .half 0x0000
      ecall
  .balign 4
  mtrap:
      li t3, ${LOG}
      slli t4, a7, 4
      add t3, t3, t4
      csrr t4, mcause
      sd t4, 0(t3)
      csrr t4, mtval
      sd t4, 8(t3)
      addi a7, a7, 1
      csrr t4, mcause
      li t5, 11
      bne t4, t5, 9f
      EXIT
  9:  csrr t4, mepc
      lhu t5, 0(t4)
      andi t5, t5, 3
      li t6, 3
      addi t4, t4, 2
      bne t5, t6, 8f
      addi t4, t4, 2
  8:  csrw mepc, t4
      mret
    `,
    );
    assert.deepEqual(logEntry(h, 0), { cause: [2, 0], tval: [0x0000000b, 0] });
    assert.deepEqual(logEntry(h, 1), { cause: [2, 0], tval: [0x4002, 0] }, 'C.LWSP with rd = 0');
    assert.deepEqual(logEntry(h, 2), { cause: [2, 0], tval: [0, 0] }, 'all-zero halfword');
    assert.deepEqual(logEntry(h, 3).cause, [11, 0]);
  });
}
