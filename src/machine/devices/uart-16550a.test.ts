import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IrqLine } from './mmio-device.js';
import type { CharBackend, CharInputListener } from './ports.js';
import { Uart16550a } from './uart-16550a.js';

const RBR = 0;
const THR = 0;
const DLL = 0;
const IER = 1;
const DLM = 1;
const IIR = 2;
const FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

class MemoryConsole implements CharBackend {
  out: number[] = [];
  listener: CharInputListener | null = null;
  write(bytes: Uint8Array): void {
    this.out.push(...bytes);
  }
  setInputListener(listener: CharInputListener | null): void {
    this.listener = listener;
  }
  text(): string {
    return String.fromCharCode(...this.out);
  }
}

function setup(queueBytes?: number) {
  const console = new MemoryConsole();
  const irq = {
    level: false,
    setLevel(a: boolean) {
      this.level = a;
    },
  } satisfies IrqLine & { level: boolean };
  const uart = new Uart16550a(console, irq, queueBytes);
  const r = (off: number) => uart.read(off, 1);
  const w = (off: number, v: number) => uart.write(off, 1, v);
  return { console, irq, uart, r, w };
}

describe('16550A UART', () => {
  it('passes the 8250 driver probe: scratch register, divisor latch, 16550A FIFO detection, loopback', () => {
    const { r, w } = setup();
    for (const v of [0xa5, 0x5a]) {
      w(SCR, v);
      assert.equal(r(SCR), v);
    }
    w(LCR, 0x80); // DLAB
    w(DLL, 0x01);
    w(DLM, 0x00);
    assert.equal(r(DLL), 0x01);
    assert.equal(r(DLM), 0x00);
    w(LCR, 0x03); // 8N1, DLAB off
    assert.equal(r(LCR), 0x03);
    assert.equal(r(IER), 0);
    // autoconfig: with the FIFO enabled IIR bits 7:6 read 3 (16550A); without, 0.
    w(FCR, 0x01);
    assert.equal(r(IIR) >> 6, 3);
    w(FCR, 0x00);
    assert.equal(r(IIR) >> 6, 0);
    assert.equal(r(IIR), 0x01);
    // Loopback test: MCR = LOOP | OUT2 | RTS gives MSR high nibble 0x90 (DCD from OUT2, CTS from RTS).
    w(MCR, 0x1a);
    assert.equal(r(MSR) & 0xf0, 0x90);
    w(THR, 0x41);
    assert.equal(r(LSR) & 0x01, 1);
    assert.equal(r(RBR), 0x41);
    w(MCR, 0x0b);
    assert.equal(r(MSR) & 0xf0, 0xb0);
    assert.equal(r(LSR), 0x60);
  });

  it('sends THR writes to the backend', () => {
    const { console, uart, w } = setup();
    for (const c of 'hello\n') w(THR, c.charCodeAt(0));
    assert.equal(console.text(), '');
    uart.service();
    assert.equal(console.text(), 'hello\n');
  });

  it('raises THRE when IER.THRI is set, clears it on IIR read, re-arms on 0->1 (8250 startup test)', () => {
    const { irq, r, w } = setup();
    w(FCR, 0x07);
    w(IER, 0x02);
    assert.equal(irq.level, true);
    assert.equal(r(IIR), 0xc2);
    assert.equal(irq.level, false);
    assert.equal(r(IIR), 0xc1);
    w(IER, 0x00);
    w(IER, 0x02);
    assert.equal(r(IIR), 0xc2);
    // Writing THR makes THR empty again at once, which raises THRE again.
    w(THR, 0x31);
    assert.equal(irq.level, true);
    w(IER, 0x00);
    assert.equal(irq.level, false);
  });

  it('interrupts for received data at the FIFO trigger level, and by timeout below it', () => {
    const { irq, uart, r, w } = setup();
    w(FCR, 0x81); // FIFO on, trigger level 8
    w(IER, 0x01);
    uart.pushInput(new Uint8Array([0x61]));
    assert.equal(r(LSR) & 0x01, 1);
    assert.equal(r(IIR), 0xc1, 'one byte is below the trigger level');
    assert.equal(irq.level, false);
    assert.equal(uart.ticksUntilEvent(), 0);
    uart.service();
    assert.equal(r(IIR), 0xcc, 'character timeout');
    assert.equal(irq.level, true);
    assert.equal(r(RBR), 0x61);
    assert.equal(irq.level, false);
    assert.equal(r(LSR) & 0x01, 0);
    uart.pushInput(new TextEncoder().encode('0123456789'));
    assert.equal(r(IIR), 0xc4, 'received data available');
    assert.equal(irq.level, true);
    let got = '';
    while (r(LSR) & 0x01) got += String.fromCharCode(r(RBR));
    assert.equal(got, '0123456789');
    assert.equal(irq.level, false);
    // Without FIFOs any byte interrupts.
    w(FCR, 0x00);
    uart.pushInput(new Uint8Array([0x62]));
    assert.equal(r(IIR), 0x04);
  });

  it('bounds buffered input, reports the overrun once, and keeps later input flowing', () => {
    const { uart, r, w } = setup(32);
    w(IER, 0x05); // RDI | RLSI
    uart.pushInput(new Uint8Array(100).fill(0x7a));
    assert.equal(uart.queuedInputBytes, 32);
    assert.equal(uart.droppedInputBytes, 68);
    assert.equal(r(IIR) & 0x0f, 0x06, 'line status interrupt first');
    assert.equal(r(LSR) & 0x02, 0x02);
    assert.equal(r(LSR) & 0x02, 0, 'OE clears on read');
    let n = 0;
    while (r(LSR) & 0x01) {
      r(RBR);
      n++;
    }
    assert.equal(n, 32);
    uart.pushInput(new Uint8Array([1]));
    assert.equal(r(RBR), 1);
  });

  it('FCR clears the receive FIFO but keeps input queued behind it', () => {
    const { uart, r, w } = setup();
    w(FCR, 0x01);
    uart.pushInput(new Uint8Array(20).map((_, i) => i));
    w(FCR, 0x03);
    assert.equal(uart.queuedInputBytes, 4);
    assert.equal(r(RBR), 16);
  });

  it('ignores unknown offsets and never throws', () => {
    const { uart } = setup();
    assert.equal(uart.read(0x40, 4), 0);
    uart.write(0x40, 4, 0xffff_ffff);
    uart.write(LSR, 1, 0);
    assert.equal(uart.read(LSR, 1), 0x60);
  });
});
