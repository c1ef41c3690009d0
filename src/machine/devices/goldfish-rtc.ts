import { StrataError } from '../../base/errors.js';
import { TIMEBASE_FREQUENCY_HZ } from '../board/virt-memmap.js';
import type { IrqLine, MmioDevice } from './mmio-device.js';
import type { Clock } from './ports.js';

// Register offsets of the Goldfish RTC (the Android emulator's "goldfish" timer, Linux rtc-goldfish).
const TIMER_TIME_LOW = 0x00;
const TIMER_TIME_HIGH = 0x04;
const TIMER_ALARM_LOW = 0x08;
const TIMER_ALARM_HIGH = 0x0c;
const TIMER_IRQ_ENABLED = 0x10;
const TIMER_CLEAR_ALARM = 0x14;
const TIMER_ALARM_STATUS = 0x18;
const TIMER_CLEAR_INTERRUPT = 0x1c;

/** Saved state of the RTC (version 1). 64-bit values are decimal strings (JSON has no 64-bit integers). */
export interface GoldfishRtcState {
  readonly version: 1;
  /** Guest time minus host wall-clock time, in ns. */
  readonly offsetNs: string;
  readonly latchedHigh: number;
  readonly pendingHigh: number;
  readonly alarmHigh: number;
  readonly alarmNs: string;
  readonly alarmArmed: boolean;
  readonly irqEnabled: boolean;
  readonly irqPending: boolean;
}

const NS_PER_TICK = 1e9 / TIMEBASE_FREQUENCY_HZ;
const MASK32 = 0xffff_ffffn;

/**
 * The Goldfish real-time clock ("google,goldfish-rtc"): a 64-bit count of nanoseconds since the Unix epoch, read
 * as two 32-bit halves. Reading TIME_LOW latches the high half, which TIME_HIGH then returns, so a LOW-then-HIGH
 * pair is consistent. Writing TIME_HIGH then TIME_LOW sets the guest's time (kept as an offset from the host's wall
 * clock). Writing ALARM_HIGH then ALARM_LOW arms a one-shot alarm; when the guest time reaches it the alarm fires:
 * ALARM_STATUS drops to 0 and the interrupt is raised while IRQ_ENABLED is 1, until the guest writes
 * CLEAR_INTERRUPT. CLEAR_ALARM disarms. The alarm is checked by `service()`, which the machine calls between hart
 * slices; `ticksUntilEvent()` says when that is due. BigInt is used here: this is no hot path.
 */
export class GoldfishRtc implements MmioDevice {
  private offsetNs = 0n;
  private latchedHigh = 0;
  private pendingHigh = 0;
  private alarmHigh = 0;
  private alarmNs = 0n;
  private alarmArmed = false;
  private irqEnabled = false;
  private irqPending = false;

  constructor(
    private readonly clock: Clock,
    private readonly irq: IrqLine,
  ) {}

  /** The guest's current RTC value in nanoseconds since the epoch. */
  nowNs(): bigint {
    return BigInt(Math.round(this.clock.wallClockNs())) + this.offsetNs;
  }

  /** Fires the alarm if its time has come. */
  service(): void {
    if (this.alarmArmed && this.nowNs() >= this.alarmNs) {
      this.alarmArmed = false;
      this.irqPending = true;
      this.update();
    }
  }

  /** Timebase ticks until the armed alarm is due (0 if overdue), or Infinity when none is armed. */
  ticksUntilEvent(): number {
    if (!this.alarmArmed) return Number.POSITIVE_INFINITY;
    const delta = this.alarmNs - this.nowNs();
    return delta <= 0n ? 0 : Math.ceil(Number(delta) / NS_PER_TICK);
  }

  /** Back to power-on: alarm disarmed, interrupt low. The time offset set by the guest is kept, like a CMOS clock. */
  reset(): void {
    this.alarmArmed = false;
    this.irqEnabled = false;
    this.irqPending = false;
    this.update();
  }

  /** The registers as a plain, versioned object. */
  save(): GoldfishRtcState {
    return {
      version: 1,
      offsetNs: this.offsetNs.toString(),
      latchedHigh: this.latchedHigh,
      pendingHigh: this.pendingHigh,
      alarmHigh: this.alarmHigh,
      alarmNs: this.alarmNs.toString(),
      alarmArmed: this.alarmArmed,
      irqEnabled: this.irqEnabled,
      irqPending: this.irqPending,
    };
  }

  /** Restores `save()` output. Throws INVALID_ARGUMENT for another version or a malformed number. */
  restore(state: GoldfishRtcState): void {
    if (state.version !== 1 || !/^-?\d+$/.test(state.offsetNs) || !/^\d+$/.test(state.alarmNs)) {
      throw new StrataError('INVALID_ARGUMENT', `RTC state version ${state.version} is not a valid version 1 state`);
    }
    this.offsetNs = BigInt(state.offsetNs);
    this.latchedHigh = state.latchedHigh >>> 0;
    this.pendingHigh = state.pendingHigh >>> 0;
    this.alarmHigh = state.alarmHigh >>> 0;
    this.alarmNs = BigInt(state.alarmNs);
    this.alarmArmed = state.alarmArmed;
    this.irqEnabled = state.irqEnabled;
    this.irqPending = state.irqPending;
    this.update();
  }

  read(offset: number, size: number): number {
    if (size !== 4) return 0;
    switch (offset) {
      case TIMER_TIME_LOW: {
        const now = this.nowNs();
        this.latchedHigh = Number((now >> 32n) & MASK32);
        return Number(now & MASK32);
      }
      case TIMER_TIME_HIGH:
        return this.latchedHigh;
      case TIMER_ALARM_LOW:
        return Number(this.alarmNs & MASK32);
      case TIMER_ALARM_HIGH:
        return Number((this.alarmNs >> 32n) & MASK32);
      case TIMER_IRQ_ENABLED:
        return this.irqEnabled ? 1 : 0;
      case TIMER_ALARM_STATUS:
        return this.alarmArmed ? 1 : 0;
      default:
        return 0;
    }
  }

  write(offset: number, size: number, value: number): void {
    if (size !== 4) return;
    const v = value >>> 0;
    switch (offset) {
      case TIMER_TIME_HIGH:
        this.pendingHigh = v;
        return;
      case TIMER_TIME_LOW: {
        const wanted = (BigInt(this.pendingHigh) << 32n) | BigInt(v);
        this.offsetNs = wanted - BigInt(Math.round(this.clock.wallClockNs()));
        return;
      }
      case TIMER_ALARM_HIGH:
        this.alarmHigh = v;
        return;
      case TIMER_ALARM_LOW:
        this.alarmNs = (BigInt(this.alarmHigh) << 32n) | BigInt(v);
        this.alarmArmed = true;
        this.service();
        return;
      case TIMER_IRQ_ENABLED:
        this.irqEnabled = (v & 1) !== 0;
        this.update();
        return;
      case TIMER_CLEAR_ALARM:
        this.alarmArmed = false;
        return;
      case TIMER_CLEAR_INTERRUPT:
        this.irqPending = false;
        this.update();
        return;
      default:
        return;
    }
  }

  private update(): void {
    this.irq.setLevel(this.irqPending && this.irqEnabled);
  }
}
