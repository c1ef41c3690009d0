import type { MmioDevice } from './mmio-device.js';

/** Finisher status "fail" (low 16 bits of a write at offset 0); the high 16 bits carry the exit code. */
export const FINISHER_FAIL = 0x3333;
/** Finisher status "pass": power off. Also the value Linux's syscon-poweroff writes (see the device tree). */
export const FINISHER_PASS = 0x5555;
/** Finisher status "reset": reboot. Also the value Linux's syscon-reboot writes. */
export const FINISHER_RESET = 0x7777;

/** What the guest asked for through the test device. */
export type PowerEvent =
  | { readonly kind: 'poweroff' }
  | { readonly kind: 'reset' }
  | { readonly kind: 'fail'; readonly code: number };

/**
 * The SiFive test device ("sifive,test0"/"sifive,test1"), also a "syscon" that Linux's syscon-poweroff and
 * syscon-reboot drivers write. A 32-bit write at offset 0 with 0x5555 in the low half means power off (pass),
 * 0x7777 reset, 0x3333 fail with the exit code in the high 16 bits; any other value or offset, and byte writes, are
 * ignored.
 * A 16-bit write at offset 0 is honoured too (OpenSBI's sifive_test driver uses `writew`), with fail code 0.
 * Reads return 0. The device only reports the event through `onEvent`; stopping the hart is the machine's job.
 */
export class SifiveTest implements MmioDevice {
  constructor(private readonly onEvent: (event: PowerEvent) => void) {}

  read(_offset: number, _size: number): number {
    return 0;
  }

  write(offset: number, size: number, value: number): void {
    if (offset !== 0 || size < 2) return;
    const status = value & 0xffff;
    if (status === FINISHER_PASS) this.onEvent({ kind: 'poweroff' });
    else if (status === FINISHER_RESET) this.onEvent({ kind: 'reset' });
    else if (status === FINISHER_FAIL) this.onEvent({ kind: 'fail', code: size === 4 ? (value >>> 16) & 0xffff : 0 });
  }
}
