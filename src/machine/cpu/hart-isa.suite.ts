// Conformance suite for any HartPort implementation: unprivileged ISA (RV64IMAC, Zicsr basics).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HartFactory, RAM_BASE, reg64, runProgram, S } from './hart-test-kit.suite.js';

/** Registers the unprivileged-ISA tests for harts made by `factory`. */
export function hartIsaSuite(factory: HartFactory): void {
  test('integer ALU, shifts, compares and 32-bit W operations', () => {
    const h = runProgram(
      factory,
      `
      li a0, 5
      li a1, -3
      add s0, a0, a1
      sub s1, a0, a1
      li t0, 0x7fffffff
      addiw s2, t0, 1
      li t1, 1
      slli t1, t1, 63
      srai s3, t1, 63
      srli s4, t1, 63
      sltu s5, a1, a0
      slt s6, a1, a0
      lui s7, 0x80000
      auipc s8, 0
      sraiw s9, s2, 4
      srlw s10, s2, a0
      subw s11, zero, t0
      EXIT
    `,
    );
    assert.equal(h.getReg(S[0]!), 2);
    assert.equal(h.getReg(S[1]!), 8);
    assert.deepEqual(reg64(h, S[2]!), [0x8000_0000, 0xffff_ffff]);
    assert.equal(h.getReg(S[3]!), -1);
    assert.equal(h.getReg(S[4]!), 1);
    assert.equal(h.getReg(S[5]!), 0);
    assert.equal(h.getReg(S[6]!), 1);
    assert.deepEqual(reg64(h, S[7]!), [0x8000_0000, 0xffff_ffff]);
    assert.ok(h.getReg(S[8]!) >= RAM_BASE && h.getReg(S[8]!) < RAM_BASE + 0x100);
    assert.deepEqual(reg64(h, S[9]!), [0xf800_0000, 0xffff_ffff]);
    assert.equal(h.getReg(S[10]!), 0x0400_0000);
    assert.equal(h.getReg(S[11]!), -0x7fff_ffff);
    assert.equal(h.getReg(0), 0);
  });

  test('M extension: products and division edge cases', () => {
    const h = runProgram(
      factory,
      `
      li a0, 7
      li a1, 0
      div s0, a0, a1
      divu s1, a0, a1
      rem s2, a0, a1
      remu s3, a0, a1
      li t0, 1
      slli t0, t0, 63
      li t1, -1
      div s4, t0, t1
      rem s5, t0, t1
      mulh s6, t0, t1
      mulhu s7, t1, t1
      mulhsu s8, t1, t1
      li t2, -2147483648
      divw s9, t2, t1
      remw s10, t2, t1
      divuw s11, a0, a1
      li a2, -7
      li a3, 2
      div a4, a2, a3
      rem a5, a2, a3
      mulw a6, t2, a3
      remuw a7, a2, a1
      EXIT
    `,
    );
    assert.equal(h.getReg(S[0]!), -1);
    assert.deepEqual(reg64(h, S[1]!), [0xffff_ffff, 0xffff_ffff]);
    assert.equal(h.getReg(S[2]!), 7);
    assert.equal(h.getReg(S[3]!), 7);
    assert.deepEqual(reg64(h, S[4]!), [0, 0x8000_0000]);
    assert.equal(h.getReg(S[5]!), 0);
    assert.equal(h.getReg(S[6]!), 0);
    assert.deepEqual(reg64(h, S[7]!), [0xffff_fffe, 0xffff_ffff]);
    assert.equal(h.getReg(S[8]!), -1);
    assert.deepEqual(reg64(h, S[9]!), [0x8000_0000, 0xffff_ffff]);
    assert.equal(h.getReg(S[10]!), 0);
    assert.equal(h.getReg(S[11]!), -1);
    assert.equal(h.getReg(14), -3);
    assert.equal(h.getReg(15), -1);
    assert.equal(h.getReg(16), 0);
    assert.equal(h.getReg(17), -7);
  });

  test('loads and stores of every width, sign extension and misaligned access (also across a page)', () => {
    const h = runProgram(
      factory,
      `
      li s0, 0x80020000
      li t0, 0x8182838485868788
      sd t0, 0(s0)
      lb s1, 0(s0)
      lbu s2, 0(s0)
      lh s3, 0(s0)
      lhu s4, 0(s0)
      lw s5, 4(s0)
      lwu s6, 4(s0)
      ld s7, 0(s0)
      li s8, 0x80020ffd
      sd t0, 0(s8)
      ld s9, 0(s8)
      lw s10, 1(s0)
      sh t0, 3(s0)
      lhu s11, 3(s0)
      EXIT
    `,
    );
    assert.equal(h.getReg(S[1]!), -0x78);
    assert.equal(h.getReg(S[2]!), 0x88);
    assert.equal(h.getReg(S[3]!), 0x8788 - 0x10000);
    assert.equal(h.getReg(S[4]!), 0x8788);
    assert.equal(h.getReg(S[5]!), 0x81828384 - 0x1_0000_0000);
    assert.equal(h.getReg(S[6]!), 0x81828384);
    assert.deepEqual(reg64(h, S[7]!), [0x85868788, 0x81828384]);
    assert.deepEqual(reg64(h, S[9]!), [0x85868788, 0x81828384]);
    assert.equal(h.getReg(S[10]!), 0x84858687 - 0x1_0000_0000);
    assert.equal(h.getReg(S[11]!), 0x8788);
  });

  test('C extension: compressed arithmetic, loads/stores, jumps and branches', () => {
    const h = runProgram(
      factory,
      `
      .option rvc
      li sp, 0x80030000
      c.li s0, 5
      c.addi s0, 3
      c.slli s0, 2
      c.mv s1, s0
      c.add s1, s0
      c.addiw s1, -1
      c.sdsp s1, 8(sp)
      c.ldsp a0, 8(sp)
      c.swsp s0, 16(sp)
      c.lwsp a1, 16(sp)
      c.addi16sp sp, 32
      c.addi4spn a2, sp, 16
      c.li a3, 0
      c.beqz a3, 1f
      c.li a3, 9
  1:  c.bnez a3, 2f
      c.j 3f
  2:  c.li a3, 1
  3:  la a4, 4f
      c.jalr a4
      c.j 5f
  4:  c.mv a5, ra
      c.jr ra
  5:  c.lui a4, 0xfffe1
      c.srai a4, 4
      c.andi a4, -32
      c.li a3, 7
      c.sub a4, a3
      c.xor a3, a3
      c.or a3, a4
      c.subw a3, a4
      EXIT
    `,
    );
    assert.equal(h.getReg(8), 32);
    assert.equal(h.getReg(9), 63);
    assert.equal(h.getReg(10), 63);
    assert.equal(h.getReg(11), 32);
    assert.equal(h.getReg(12), 0x80030000 + 32 + 16);
    assert.equal(h.getReg(14), -0x1f07);
    assert.equal(h.getReg(13), 0);
    assert.equal(h.getReg(15) % 2, 0);
    assert.ok(h.getReg(15) > RAM_BASE);
  });

  test('CSRs: read/write/set/clear, misa, mhartid, unknown CSR is an illegal instruction with tval', () => {
    const h = runProgram(
      factory,
      `
      la t0, trap
      csrw mtvec, t0
      li t1, 0x1234
      csrrw zero, mscratch, t1
      csrrsi s0, mscratch, 3
      csrrc s1, mscratch, t1
      csrr s2, mscratch
      csrr s3, misa
      csrr s4, mhartid
      li s5, 0
      csrr s6, 0x7c0
      li t1, -1
      csrw pmpaddr0, t1
      csrr s7, pmpaddr0
      csrr s8, mstatus
      EXIT
  trap:
      csrr s5, mcause
      csrr s9, mtval
      csrr t2, mepc
      addi t2, t2, 4
      csrw mepc, t2
      mret
    `,
    );
    assert.equal(h.getReg(8), 0x1234);
    assert.equal(h.getReg(9), 0x1237);
    assert.equal(h.getReg(18), 3);
    assert.deepEqual(reg64(h, 19), [0x0014_112d, 0x8000_0000]);
    assert.equal(h.getReg(20), 0);
    assert.equal(h.getReg(21), 2);
    assert.equal(h.getRegLo(25), 0x7c002b73);
    assert.deepEqual(reg64(h, 23), [0xffff_ffff, 0x003f_ffff]);
    assert.deepEqual(reg64(h, 24), [0x80, 0xa]); // MPIE = 1 after MRET, UXL = SXL = 2
  });
}
