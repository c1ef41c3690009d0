// Switch forwarding rate: 64-byte frames, learned unicast, one core (the event loop of this process).
// `measureSwitchForwarding` is for bench/run.ts; running this file alone prints the figures.
import { readMac } from '../src/services/network/ethernet.js';
import { OpenFlowAgent } from '../src/services/network/openflow/agent.js';
import { testFrame } from '../src/services/network/test-frames.js';
import { VirtualSwitch } from '../src/services/network/virtual-switch.js';

/** Frames per second through three paths, all single-threaded, 64-byte frames between two learned MACs. */
export interface SwitchForwardingFigures {
  /** VirtualSwitch learning path (port queue, validation, VLAN classification, MAC table, egress). */
  switchFps: number;
  /** The same with the OpenFlow agent's pipeline installed (table-miss entry -> NORMAL). */
  openflowFps: number;
  /**
   * Reference ceiling for a JavaScript switch: a bare loop that reads the destination MAC, looks it up in a Map
   * and calls the output function, with no validation, counters, VLANs or queueing.
   */
  mapLoopFps: number;
}

const A = 0x020000000001;
const B = 0x020000000002;
const BATCH = 256;

function timeLoop(seconds: number, body: () => number): number {
  // Warm up, then measure.
  const warm = performance.now() + 200;
  while (performance.now() < warm) body();
  let frames = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    frames += body();
    now = performance.now();
  }
  return frames / ((now - start) / 1000);
}

function switchRate(seconds: number, withOpenflow: boolean): number {
  const sw = new VirtualSwitch({ name: 'bench', macCapacity: 1024 });
  let delivered = 0;
  const p1 = sw.addPort({ name: 'p1', sink: () => true, queueFrames: BATCH });
  const p2 = sw.addPort({
    name: 'p2',
    sink: () => {
      delivered++;
      return true;
    },
    queueFrames: BATCH,
  });
  const agent = withOpenflow ? new OpenFlowAgent(sw) : undefined;
  // Learn both MACs.
  p2.receive(testFrame(A, B, 64));
  p1.receive(testFrame(B, A, 64));
  sw.flush();
  const frames = Array.from({ length: BATCH }, () => testFrame(B, A, 64));
  const before = delivered;
  const fps = timeLoop(seconds, () => {
    for (let i = 0; i < BATCH; i++) p1.receive(frames[i]!);
    sw.flush();
    return BATCH;
  });
  if (delivered - before === 0) throw new Error('bench: nothing was forwarded');
  void agent?.close();
  return fps;
}

function mapLoopRate(seconds: number): number {
  const table = new Map<number, (f: Uint8Array) => boolean>();
  let delivered = 0;
  table.set(B, () => {
    delivered++;
    return true;
  });
  table.set(A, () => true);
  const frames = Array.from({ length: BATCH }, () => testFrame(B, A, 64));
  const fps = timeLoop(seconds, () => {
    for (let i = 0; i < BATCH; i++) {
      const f = frames[i]!;
      table.get(readMac(f, 0))?.(f);
    }
    return BATCH;
  });
  if (delivered === 0) throw new Error('bench: nothing was forwarded');
  return fps;
}

/** Measures the three forwarding rates, `seconds` each. */
export function measureSwitchForwarding(seconds = 2): SwitchForwardingFigures {
  return {
    switchFps: switchRate(seconds, false),
    openflowFps: switchRate(seconds, true),
    mapLoopFps: mapLoopRate(seconds),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const f = measureSwitchForwarding();
  const m = (x: number) => `${(x / 1e6).toFixed(2)} Mframes/s`;
  process.stdout.write(
    [
      `switch forwarding, 64-byte frames, learned unicast, one core: ${m(f.switchFps)}`,
      `  with the OpenFlow pipeline (table-miss -> NORMAL):        ${m(f.openflowFps)}`,
      `  reference: bare Map-lookup forwarding loop in JS:          ${m(f.mapLoopFps)}`,
      '',
    ].join('\n'),
  );
}
