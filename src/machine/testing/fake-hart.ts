import { type HartPort, type MmioHandler, StopReason } from '../cpu/hart-port.js';

/**
 * A stand-in hart for board tests: it executes nothing. It owns `ram`, records register writes, resets and the
 * external interrupt lines, and `run` calls a scripted `program` (which may drive the bus through `mmio`, as
 * guest loads and stores would) and returns what it returns.
 */
export class FakeHart implements HartPort {
  readonly ram: Uint8Array;
  readonly regs = new Array<number>(32).fill(0);
  pc = 0;
  resets = 0;
  /** Current level of each external interrupt line and every change, in order. */
  readonly external = { machine: false, supervisor: false };
  readonly externalLog: string[] = [];
  timerTicks = Number.POSITIVE_INFINITY;
  tohost = 0;
  htifAddr: number | undefined;
  retired = 0;
  /** What `run` does; by default it retires the whole budget. */
  program: (hart: FakeHart, budget: number) => StopReason = (_h, budget) => {
    this.retired += budget;
    return StopReason.Budget;
  };

  constructor(
    readonly mmio: MmioHandler,
    ramBytes: number,
  ) {
    this.ram = new Uint8Array(ramBytes);
  }

  run(budget: number): StopReason {
    return this.program(this, budget);
  }
  reset(pc: number): void {
    this.regs.fill(0);
    this.pc = pc;
    this.resets++;
  }
  setReg(index: number, value: number): void {
    if (index !== 0) this.regs[index] = value;
  }
  getReg(index: number): number {
    return this.regs[index] ?? 0;
  }
  getPc(): number {
    return this.pc;
  }
  setExternalInterrupt(mode: 'machine' | 'supervisor', asserted: boolean): void {
    if (this.external[mode] !== asserted) this.externalLog.push(`${mode}=${asserted ? 1 : 0}`);
    this.external[mode] = asserted;
  }
  ticksUntilTimer(): number {
    return this.timerTicks;
  }
  mtime(): number {
    return 0;
  }
  instret(): number {
    return this.retired;
  }
  setHtif(tohostAddr: number): void {
    this.htifAddr = tohostAddr;
  }
  htifToHost(): number {
    return this.tohost;
  }
  faultText(): string {
    return '';
  }
}
