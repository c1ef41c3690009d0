import type { MmioDevice } from './mmio-device.js';

/** Status values of the SiFive test device's finisher register (low 16 bits of a write at offset 0). */
export const FINISHER_FAIL = 0x3333;
export const FINISHER_PASS = 0x5555;
export const FINISHER_RESET = 0x7777;

/** What the guest asked for through the test device. */
export type PowerEvent =
  | { readonly kind: 'poweroff' }
  | { readonly kind: 'reset' }
  | { readonly kind: 'fail'; readonly code: number };

/**
 * The SiFive test device ("sifive,test0"/"sifive,test1"), also a "syscon" that Linux's syscon-poweroff and
 * syscon-reboot drivers write. A 32-bit write at offset 0 with 0x5555 in the low half means power off (pass),
 * 0x7777 reset, 0x3333 fail with the exit code in the high 16 bits; any other value, offset or size is ignored.
 * Reads return 0. The device only reports the event through `onEvent`; stopping the hart is the machine's job.
 */
export class SifiveTest implements MmioDevice {
  constructor(private readonly onEvent: (event: PowerEvent) => void) {}

  read(_offset: number, _size: number): number {
    return 0;
  }

  write(offset: number, size: number, value: number): void {
    if (offset !== 0 || size !== 4) return;
    const status = value & 0xffff;
    if (status === FINISHER_PASS) this.onEvent({ kind: 'poweroff' });
    else if (status === FINISHER_RESET) this.onEvent({ kind: 'reset' });
    else if (status === FINISHER_FAIL) this.onEvent({ kind: 'fail', code: (value >>> 16) & 0xffff });
  }
}
