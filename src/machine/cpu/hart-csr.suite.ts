// Conformance suite for any HartPort implementation: privilege controls (TVM/TSR/TW, counters, MPRV, MXR), vectored
// traps, FP state, fetch corner cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type HartFactory,
  logEntry,
  M_LOGGING_HANDLER,
  makeHart,
  RAM_BASE,
  ramU64,
  reg64,
  runProgram,
  writeRamU64,
} from './hart-test-kit.suite.js';

/** Macros that drop from M to S or U at a label (MPP, mepc, MRET). */
const MODE_MACROS = `
.macro ENTER_S label
  li t0, 3 << 11
  csrc mstatus, t0
  li t0, 1 << 11
  csrs mstatus, t0
  la t0, \\label
  csrw mepc, t0
  mret
.endm
.macro ENTER_U label
  li t0, 3 << 11
  csrc mstatus, t0
  la t0, \\label
  csrw mepc, t0
  mret
.endm
`;

/** Opens PMP for S/U and installs the logging M handler (mtrap) with the trap count in a7. */
const SETUP_LOG = `
  .option norvc
  PMP_OPEN
  li a7, 0
  la t0, mtrap
  csrw mtvec, t0
`;

/** Registers the privilege-control tests for harts made by `factory`. */
export function hartCsrSuite(factory: HartFactory): void {
  test('TVM, TSR and TW make satp, SFENCE.VMA, SRET and WFI illegal in S', () => {
    const h = runProgram(
      factory,
      `${MODE_MACROS}${SETUP_LOG}
      li t0, (1 << 20) | (1 << 21) | (1 << 22)
      csrs mstatus, t0
      ENTER_S s_code
s_code:
      csrr t1, satp
      sfence.vma
      sret
      wfi
      ecall
      ${M_LOGGING_HANDLER}
    `,
    );
    for (let i = 0; i < 4; i++) assert.deepEqual(logEntry(h, i).cause, [2, 0], `trap ${i} is an illegal instruction`);
    assert.deepEqual(logEntry(h, 0).tval, [0x18002373, 0]);
    assert.deepEqual(logEntry(h, 1).tval, [0x12000073, 0]);
    assert.deepEqual(logEntry(h, 2).tval, [0x10200073, 0]);
    assert.deepEqual(logEntry(h, 3).tval, [0x10500073, 0]);
    assert.deepEqual(logEntry(h, 4).cause, [9, 0]);
  });

  test('counters: gated by mcounteren/scounteren, minstret counts, mcountinhibit stops it, time reads mtime', () => {
    const h = runProgram(
      factory,
      `${MODE_MACROS}${SETUP_LOG}
      csrr s0, minstret
      nop
      nop
      csrr s1, minstret
      csrwi mcountinhibit, 4
      csrr s2, minstret
      nop
      csrr s3, minstret
      csrwi mcountinhibit, 0
      li t0, 3
      csrw mcounteren, t0
      ENTER_S s_code
s_code:
      rdtime s4
      rdinstret s5
      rdcycle s6
      li t0, 1
      csrw scounteren, t0
      la t0, u_code
      csrw sepc, t0
      li t0, 1 << 8
      csrc sstatus, t0
      sret
u_code:
      rdcycle s7
      rdtime s8
      ecall
      ${M_LOGGING_HANDLER}
    `,
      { instructionsPerTick: 1 },
    );
    assert.equal(h.getReg(9) - h.getReg(8), 3);
    assert.equal(h.getReg(19) - h.getReg(18), 0, 'inhibited');
    assert.ok(h.getReg(20) > 0, 'time from S');
    assert.ok(h.getReg(23) > 0, 'cycle from U');
    assert.deepEqual(logEntry(h, 0).cause, [2, 0], 'rdinstret from S without mcounteren.IR');
    assert.deepEqual(logEntry(h, 1).cause, [2, 0], 'rdtime from U without scounteren.TM');
    assert.deepEqual(logEntry(h, 2).cause, [8, 0]);
  });

  test('satp ignores unsupported modes; vectored mtvec sends interrupts to base + 4 * cause', () => {
    const h = runProgram(
      factory,
      `
      .option norvc
      li t0, (9 << 60) | 0x1234
      csrw satp, t0
      csrr s0, satp
      li t0, (8 << 60) | 0x80100
      csrw satp, t0
      csrr s1, satp
      csrw satp, zero
      la t0, vec
      ori t0, t0, 1
      csrw mtvec, t0
      csrsi mip, 2
      csrsi mie, 2
      csrsi mstatus, 8
      nop
      FAIL 1
.balign 64
vec:
      j exc
      j ssi
exc:  FAIL 2
ssi:  csrr s2, mcause
      EXIT
    `,
    );
    assert.equal(h.getReg(8), 0, 'Sv48 write ignored');
    assert.deepEqual(reg64(h, 9), [0x80100, 0x8000_0000]);
    assert.deepEqual(reg64(h, 18), [1, 0x8000_0000]);
  });

  test('MPRV translates M-mode loads with MPP; MXR makes execute-only pages readable', () => {
    const ROOT = 0x8010_0000;
    const L1 = 0x8010_1000;
    const L0 = 0x8010_2000;
    const pte = (pa: number, flags: number): number => (pa / 4096) * 1024 + flags;
    const h = runProgram(
      factory,
      `${MODE_MACROS}${SETUP_LOG}
      li t0, (8 << 60) | (${ROOT} >> 12)
      csrw satp, t0
      li t0, (1 << 17) | (1 << 11)
      csrs mstatus, t0
      li t1, 0x40000000
      ld s0, 0(t1)
      li t0, 1 << 17
      csrc mstatus, t0
      ENTER_S s_code
s_code:
      li t1, 0x40001000
      ld s1, 0(t1)
      li t0, 1 << 19
      csrs sstatus, t0
      ld s2, 0(t1)
      ecall
      ${M_LOGGING_HANDLER}
    `,
      {
        setup: (hh) => {
          writeRamU64(hh, ROOT + 2 * 8, pte(0x8000_0000, 0xcf));
          writeRamU64(hh, ROOT + 1 * 8, pte(L1, 1));
          writeRamU64(hh, L1, pte(L0, 1));
          writeRamU64(hh, L0, pte(0x8020_0000, 0x43)); // V R A
          writeRamU64(hh, L0 + 8, pte(0x8020_1000, 0x49)); // V X A
          writeRamU64(hh, 0x8020_0000, 0x1234);
          writeRamU64(hh, 0x8020_1000, 0x5678);
        },
      },
    );
    assert.equal(h.getReg(8), 0x1234, 'MPRV load through the page table');
    assert.deepEqual(logEntry(h, 0), { cause: [13, 0], tval: [0x4000_1000, 0] }, 'X-only page without MXR');
    assert.equal(h.getReg(18), 0x5678, 'X-only page with MXR');
  });

  test('Sv39: misaligned accesses across a page boundary; a fault on the second page leaves no partial store', () => {
    const ROOT = 0x8010_0000;
    const L1 = 0x8010_1000;
    const L0 = 0x8010_2000;
    const pte = (pa: number, flags: number): number => (pa / 4096) * 1024 + flags;
    const h = runProgram(
      factory,
      `${MODE_MACROS}${SETUP_LOG}
      li t0, (8 << 60) | (${ROOT} >> 12)
      csrw satp, t0
      ENTER_S s_code
s_code:
      li t1, 0x40000ffc
      li t2, 0x1122334455667788
      sd t2, 0(t1)
      ld s0, 0(t1)
      li t1, 0x40001ffe
      sw t2, 0(t1)
      lw s1, 0(t1)
      ecall
      ${M_LOGGING_HANDLER}
    `,
      {
        setup: (hh) => {
          writeRamU64(hh, ROOT + 2 * 8, pte(0x8000_0000, 0xcf));
          writeRamU64(hh, ROOT + 1 * 8, pte(L1, 1));
          writeRamU64(hh, L1, pte(L0, 1));
          writeRamU64(hh, L0, pte(0x8020_3000, 0xc7)); // RW, physically apart from the next page
          writeRamU64(hh, L0 + 8, pte(0x8020_0000, 0xc7));
          writeRamU64(hh, L0 + 16, pte(0x8020_6000, 0x43)); // read-only
          writeRamU64(hh, 0x8020_0ff8, 0xaaaa_aaaa, 0xbbbb_bbbb);
        },
      },
    );
    assert.deepEqual(reg64(h, 8), [0x5566_7788, 0x1122_3344]);
    assert.deepEqual(ramU64(h, 0x8020_3ff8), [0, 0x5566_7788]);
    assert.deepEqual(ramU64(h, 0x8020_0000), [0x1122_3344, 0]);
    assert.deepEqual(logEntry(h, 0), { cause: [15, 0], tval: [0x4000_2000, 0] }, 'store faults on the read-only page');
    assert.deepEqual(ramU64(h, 0x8020_0ff8), [0xaaaa_aaaa, 0xbbbb_bbbb], 'nothing written to the first page');
    assert.equal(h.getReg(9), 0xbbbb, 'load across into the read-only page works');
  });

  test('SEIP reads as the OR of the PLIC line and the software bit; CSRRS does not latch the line', () => {
    const h = makeHart(factory);
    h.ram.set(
      new Uint8Array(new Uint32Array([0x34402473, 0x34416073, 0x344024f3, 0x0000006f]).buffer), // csrr s0,mip; csrsi mip,2; csrr s1,mip; j .
      0,
    );
    h.reset(RAM_BASE);
    h.setExternalInterrupt('supervisor', true);
    h.run(2);
    h.setExternalInterrupt('supervisor', false);
    h.run(2);
    assert.equal(h.getReg(8) & 0x200, 0x200, 'line visible in mip');
    assert.equal(h.getReg(9) & 0x202, 0x002, 'SEIP not latched by csrsi, SSIP set');
  });

  test('FP state: FS=Off makes FLW illegal; FLW NaN-boxes; fcsr writes set FS=Dirty and SD', () => {
    const h = runProgram(
      factory,
      `${SETUP_LOG}
      li s0, 0x80020000
      li t0, 0x3f800000
      sw t0, 0(s0)
      flw f1, 0(s0)
      li t0, 1 << 13
      csrs mstatus, t0
      flw f1, 0(s0)
      fsd f1, 8(s0)
      ld s1, 8(s0)
      csrr s2, mstatus
      csrwi fcsr, 0x1f
      csrr s3, fflags
      csrr s4, mstatus
      ecall
      ${M_LOGGING_HANDLER}
    `,
      { march: 'rv64imafdc_zicsr_zifencei' },
    );
    assert.deepEqual(logEntry(h, 0).cause, [2, 0], 'FLW with FS = Off');
    assert.deepEqual(reg64(h, 9), [0x3f80_0000, 0xffff_ffff], 'NaN-boxed single');
    assert.equal(h.getReg(19), 0x1f);
    assert.equal(h.getRegHi(20) >>> 31, 1, 'SD');
    assert.equal((h.getReg(20) >> 13) & 3, 3, 'FS = Dirty');
  });

  test('fetch: a 32-bit instruction across a page boundary, and fetch from MMIO is an access fault', () => {
    const h = runProgram(
      factory,
      `${SETUP_LOG}
      j straddle
      ${M_LOGGING_HANDLER.replace('csrr t4, mepc\n    addi t4, t4, 4', 'mv t4, ra')}
.balign 4096
      .skip 4094
straddle:
      .word 0x00a00413
      li t0, 0x10000000
      jalr t0
      ecall
    `,
    );
    assert.equal(h.getReg(8), 10, 'li s0, 10 straddling two pages');
    assert.deepEqual(logEntry(h, 0), { cause: [1, 0], tval: [0x1000_0000, 0] });
  });

  test('interrupt priority: MSI before MTI when both are pending and enabled', () => {
    const h = runProgram(
      factory,
      `
      .option norvc
      la t0, mtrap
      csrw mtvec, t0
      li t1, 0x02004000
      sd zero, 0(t1)
      li t1, 0x02000000
      li t2, 1
      sw t2, 0(t1)
      li t0, 0x88
      csrs mie, t0
      csrsi mstatus, 8
      FAIL 1
.balign 4
mtrap:
      csrr s0, mcause
      EXIT
    `,
    );
    assert.deepEqual(reg64(h, 8), [3, 0x8000_0000]);
  });
}
