import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GoldfishRtc } from './goldfish-rtc.js';
import type { Clock } from './ports.js';

const TIME_LOW = 0x00;
const TIME_HIGH = 0x04;
const ALARM_LOW = 0x08;
const ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14;
const ALARM_STATUS = 0x18;
const CLEAR_INTERRUPT = 0x1c;

function setup(startNs: number) {
  const clock: Clock & { now: number } = {
    now: startNs,
    monotonicNs: () => 0,
    wallClockNs: () => clock.now,
  };
  const irq = {
    level: false,
    setLevel(a: boolean) {
      this.level = a;
    },
  };
  const rtc = new GoldfishRtc(clock, irq);
  const r = (off: number) => rtc.read(off, 4);
  const w = (off: number, v: number) => rtc.write(off, 4, v);
  const time = () => {
    const low = r(TIME_LOW);
    return r(TIME_HIGH) * 2 ** 32 + low;
  };
  return { clock, irq, rtc, r, w, time };
}

describe('Goldfish RTC', () => {
  it('reads the wall clock in ns, TIME_LOW latching TIME_HIGH', () => {
    const { clock, r, time } = setup(0x1_0000_0000 * 5 + 0xffff_fff0);
    assert.equal(time(), 0x1_0000_0000 * 5 + 0xffff_fff0);
    const low = r(TIME_LOW);
    clock.now += 0x20; // the low half wraps; the latched high half must not move
    assert.equal(r(TIME_HIGH), 5);
    assert.equal(low, 0xffff_fff0);
  });

  it('sets the time as an offset from the host clock (HIGH then LOW)', () => {
    const { clock, w, time } = setup(1_000_000_000);
    w(TIME_HIGH, 2);
    w(TIME_LOW, 0);
    assert.equal(time(), 2 * 2 ** 32);
    clock.now += 500;
    assert.equal(time(), 2 * 2 ** 32 + 500);
  });

  it('fires an armed alarm once due, raises the IRQ while enabled, clears on CLEAR_INTERRUPT', () => {
    const { clock, irq, rtc, r, w } = setup(1_000_000);
    w(ALARM_HIGH, 0);
    w(ALARM_LOW, 2_000_000);
    w(IRQ_ENABLED, 1);
    assert.equal(r(ALARM_STATUS), 1);
    assert.equal(rtc.ticksUntilEvent(), 10_000, '1 ms at 10 MHz');
    rtc.service();
    assert.equal(irq.level, false);
    clock.now = 2_000_000;
    rtc.service();
    assert.equal(irq.level, true);
    assert.equal(r(ALARM_STATUS), 0);
    assert.equal(rtc.ticksUntilEvent(), Number.POSITIVE_INFINITY);
    w(CLEAR_INTERRUPT, 1);
    assert.equal(irq.level, false);
  });

  it('CLEAR_ALARM disarms; an alarm in the past fires at once; IRQ_ENABLED gates the line', () => {
    const { irq, r, w } = setup(5_000_000);
    w(ALARM_LOW, 9_000_000);
    w(CLEAR_ALARM, 1);
    assert.equal(r(ALARM_STATUS), 0);
    w(ALARM_LOW, 1);
    assert.equal(irq.level, false, 'fired, but the IRQ is disabled');
    w(IRQ_ENABLED, 1);
    assert.equal(irq.level, true);
    assert.equal(r(0x40), 0);
  });
});
