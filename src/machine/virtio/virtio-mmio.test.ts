import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { VIRTIO_MMIO_MAGIC_VALUE } from '../devices/virtio-mmio-empty.js';
import { readFromChain, writeToChain } from './chain-io.js';
import { VIRTQ_DESC_F_NEXT } from './split-virtqueue.js';
import {
  featureWords,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  type VirtioDevice,
  type VirtioDeviceHost,
} from './virtio-device.js';
import {
  STRATA_VIRTIO_VENDOR_ID,
  VIRTIO_MMIO,
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_STATUS,
  VirtioMmioTransport,
} from './virtio-mmio.js';
import { MockGuestRam, VirtioMmioDriverMock } from './virtqueue-driver-mock.js';

/** A test device: copies each chain's readable bytes into its writable buffers (queue 0), with a config word. */
class EchoDevice implements VirtioDevice {
  readonly deviceId = 42;
  readonly features = featureWords(3);
  readonly queueMaxSizes = [16, 8];
  host: VirtioDeviceHost | undefined;
  resets = 0;
  activations = 0;
  notifies: number[] = [];
  configWord = 0x1234_5678;

  readConfig(offset: number, size: number): number {
    if (offset + size > 4) return 0;
    return Math.floor(this.configWord / 2 ** (8 * offset)) % 2 ** (8 * size);
  }
  writeConfig(offset: number, size: number, value: number): void {
    if (offset === 0 && size === 4) this.configWord = value;
  }
  activate(host: VirtioDeviceHost): void {
    this.host = host;
    this.activations++;
  }
  notify(index: number): void {
    this.notifies.push(index);
    const host = this.host;
    const q = host?.queue(index);
    if (!host || !q) return;
    for (let c = q.pop(); c; c = q.pop()) {
      const buf = new Uint8Array(c.readableBytes);
      readFromChain(host.memory.ram, c, 0, buf);
      q.pushUsed(c.head, writeToChain(host.memory.ram, c, 0, buf));
    }
    host.usedBuffers(index);
  }
  reset(): void {
    this.resets++;
    this.host = undefined;
  }
}

function setup() {
  const gram = new MockGuestRam(512 * 1024);
  const levels: boolean[] = [];
  let wakes = 0;
  const device = new EchoDevice();
  const transport = new VirtioMmioTransport(
    {
      irq: { setLevel: (l) => levels.push(l) },
      ram: gram.ram,
      ramBase: gram.ramBase,
      wake: () => {
        wakes++;
      },
    },
    device,
  );
  const driver = new VirtioMmioDriverMock(transport, gram);
  return { gram, device, transport, driver, levels, wakes: () => wakes, irq: () => levels.at(-1) ?? false };
}

describe('VirtioMmioTransport', () => {
  test('identifies as a version 2 virtio-mmio device', () => {
    const { driver } = setup();
    assert.equal(driver.reg(VIRTIO_MMIO.MagicValue), VIRTIO_MMIO_MAGIC_VALUE);
    assert.equal(driver.reg(VIRTIO_MMIO.Version), 2);
    assert.equal(driver.reg(VIRTIO_MMIO.DeviceID), 42);
    assert.equal(driver.reg(VIRTIO_MMIO.VendorID), STRATA_VIRTIO_VENDOR_ID);
    assert.equal(driver.reg(VIRTIO_MMIO.SHMLenLow), 0xffff_ffff, 'no shared memory regions');
    assert.equal(driver.dev.read(VIRTIO_MMIO.MagicValue, 2), 0, 'registers take 32-bit accesses only');
  });

  test('offers the device features plus VERSION_1, INDIRECT_DESC and EVENT_IDX', () => {
    const { driver } = setup();
    const [low, high] = driver.deviceFeatures();
    assert.equal(low, (1 << 3) | (1 << VIRTIO_F_INDIRECT_DESC) | (1 << VIRTIO_F_EVENT_IDX));
    assert.equal(high, 1 << (VIRTIO_F_VERSION_1 - 32));
    assert.equal(driver.offersRingFeatures(), true);
  });

  test('FEATURES_OK needs VERSION_1 and only offered features', () => {
    const { driver, device } = setup();
    let status = driver.init({ features: [1 << 3, 0] });
    assert.equal(status & VIRTIO_STATUS.FEATURES_OK, 0, 'a legacy driver is refused');
    // A driver that goes on regardless does not get a working device.
    driver.setReg(VIRTIO_MMIO.Status, status | VIRTIO_STATUS.DRIVER_OK);
    assert.equal(device.activations, 0);
    status = driver.init({ features: [1 << 5, 1] });
    assert.equal(status & VIRTIO_STATUS.FEATURES_OK, 0, 'an unoffered feature is refused');
    status = driver.init({ features: [1 << 3, 1] });
    assert.equal(status & VIRTIO_STATUS.FEATURES_OK, VIRTIO_STATUS.FEATURES_OK);
    assert.equal(status & VIRTIO_STATUS.DRIVER_OK, VIRTIO_STATUS.DRIVER_OK);
    assert.equal(device.activations, 1);
    assert.equal(device.host?.hasFeature(3), true);
    assert.equal(device.host?.hasFeature(VIRTIO_F_EVENT_IDX), false);
    // Features are fixed once FEATURES_OK is set.
    driver.setReg(VIRTIO_MMIO.DriverFeaturesSel, 0);
    driver.setReg(VIRTIO_MMIO.DriverFeatures, 0);
    assert.equal(device.host?.hasFeature(3), true);
  });

  test('sets up queues and reports QueueNumMax; layout registers are frozen while the queue is ready', () => {
    const { driver } = setup();
    driver.init();
    driver.setReg(VIRTIO_MMIO.QueueSel, 1);
    assert.equal(driver.reg(VIRTIO_MMIO.QueueNumMax), 8);
    assert.equal(driver.reg(VIRTIO_MMIO.QueueReady), 1);
    const desc = driver.reg(VIRTIO_MMIO.QueueDescLow);
    driver.setReg(VIRTIO_MMIO.QueueDescLow, 0);
    assert.equal(driver.reg(VIRTIO_MMIO.QueueDescLow), desc);
    driver.setReg(VIRTIO_MMIO.QueueSel, 2);
    assert.equal(driver.reg(VIRTIO_MMIO.QueueNumMax), 0, 'no third queue');
    driver.setReg(VIRTIO_MMIO.QueueSel, 1);
    driver.setReg(VIRTIO_MMIO.QueueReady, 0);
    assert.equal(driver.reg(VIRTIO_MMIO.QueueReady), 0);
  });

  test('used buffers raise the interrupt and wake the VM; InterruptACK lowers it', () => {
    const s = setup();
    s.driver.init();
    const q = s.driver.queue(0);
    const src = s.gram.put(new TextEncoder().encode('ping'));
    const dst = s.gram.alloc(4);
    const head = q.submit([
      { addr: src, len: 4, write: false },
      { addr: dst, len: 4, write: true },
    ]);
    s.driver.kick(0);
    assert.deepEqual(q.takeUsed(), [{ id: head, len: 4 }]);
    assert.equal(new TextDecoder().decode(s.gram.view(dst, 4)), 'ping');
    assert.equal(s.irq(), true);
    assert.equal(s.wakes(), 1);
    assert.equal(s.driver.ackInterrupt(), VIRTIO_MMIO_INT_VRING);
    assert.equal(s.irq(), false);
    assert.equal(s.driver.reg(VIRTIO_MMIO.InterruptStatus), 0);
  });

  test('notifications before DRIVER_OK and for unknown queues are ignored', () => {
    const s = setup();
    s.driver.kick(0);
    s.driver.init();
    s.driver.kick(7);
    assert.deepEqual(s.device.notifies, []);
  });

  test('a malformed chain sets DEVICE_NEEDS_RESET with a configuration interrupt; reset clears it', () => {
    const s = setup();
    s.driver.init();
    const q = s.driver.queue(0);
    const b = s.gram.alloc(4);
    q.setDescriptor(0, b, 4, VIRTQ_DESC_F_NEXT, 0); // a chain that points at itself
    q.publish(0);
    s.driver.kick(0);
    assert.equal(s.driver.reg(VIRTIO_MMIO.Status) & VIRTIO_STATUS.DEVICE_NEEDS_RESET, VIRTIO_STATUS.DEVICE_NEEDS_RESET);
    assert.match(s.transport.needsReset ?? '', /queue 0: .*loops/);
    assert.equal(s.driver.reg(VIRTIO_MMIO.InterruptStatus) & VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_CONFIG);
    assert.equal(s.driver.reg(VIRTIO_MMIO.ConfigGeneration), 1);
    assert.equal(s.irq(), true);
    // The device is dead until reset: further kicks do nothing.
    s.driver.kick(0);
    assert.deepEqual(s.device.notifies, [0]);
    s.driver.init();
    assert.equal(s.transport.needsReset, undefined);
    assert.equal(s.driver.reg(VIRTIO_MMIO.Status) & VIRTIO_STATUS.DEVICE_NEEDS_RESET, 0);
  });

  test('an impossible queue layout sets DEVICE_NEEDS_RESET', () => {
    const s = setup();
    s.driver.init({ queueSizes: [12, 8] });
    assert.match(s.transport.needsReset ?? '', /power of 2/);
    const t = setup();
    t.driver.init({ queueSizes: [32, 8] });
    assert.match(t.transport.needsReset ?? '', /exceeds QueueNumMax 16/);
  });

  test('writing 0 to Status resets the device, its queues and the interrupt', () => {
    const s = setup();
    s.driver.init();
    const q = s.driver.queue(0);
    q.submit([{ addr: s.gram.alloc(1), len: 1, write: false }]);
    s.driver.kick(0);
    assert.equal(s.irq(), true);
    s.driver.setReg(VIRTIO_MMIO.Status, 0);
    assert.equal(s.device.resets, 2, 'once by init, once now');
    assert.equal(s.irq(), false);
    assert.equal(s.driver.reg(VIRTIO_MMIO.Status), 0);
    s.driver.setReg(VIRTIO_MMIO.QueueSel, 0);
    assert.equal(s.driver.reg(VIRTIO_MMIO.QueueReady), 0);
    s.transport.reset();
    assert.equal(s.device.resets, 3);
  });

  test('the configuration space takes 8-, 16- and 32-bit accesses at 0x100', () => {
    const { driver, device } = setup();
    assert.equal(driver.dev.read(VIRTIO_MMIO.Config, 4), 0x1234_5678);
    assert.equal(driver.dev.read(VIRTIO_MMIO.Config + 1, 1), 0x56);
    assert.equal(driver.dev.read(VIRTIO_MMIO.Config + 2, 2), 0x1234);
    driver.dev.write(VIRTIO_MMIO.Config, 4, 0xdead_beef);
    assert.equal(device.configWord, 0xdead_beef);
    assert.equal(driver.dev.read(VIRTIO_MMIO.Config + 64, 4), 0);
  });

  test('save and restore keep negotiation, queues and ring positions', () => {
    const a = setup();
    a.driver.init();
    const q = a.driver.queue(0);
    const src = a.gram.put(Uint8Array.of(1));
    q.submit([
      { addr: src, len: 1, write: false },
      { addr: a.gram.alloc(1), len: 1, write: true },
    ]);
    a.driver.kick(0);
    const state = a.transport.save();
    assert.equal(state.version, 1);
    assert.equal(state.queues[0]?.ring?.usedIdx, 1);
    const json = JSON.parse(JSON.stringify(state));

    // A second transport over the same RAM continues where the first stopped.
    const levels: boolean[] = [];
    const device = new EchoDevice();
    const b = new VirtioMmioTransport(
      { irq: { setLevel: (l) => levels.push(l) }, ram: a.gram.ram, ramBase: a.gram.ramBase },
      device,
    );
    b.restore(json);
    assert.equal(levels.at(-1), true, 'the pending interrupt is re-driven');
    assert.equal(device.activations, 1);
    q.submit([
      { addr: src, len: 1, write: false },
      { addr: a.gram.alloc(1), len: 1, write: true },
    ]);
    b.write(VIRTIO_MMIO.QueueNotify, 4, 0);
    assert.equal(q.takeUsed().length, 2, 'the first completion and the one after restore');
    assert.throws(() => b.restore({ ...state, deviceId: 7 }), /does not fit/);
  });
});
