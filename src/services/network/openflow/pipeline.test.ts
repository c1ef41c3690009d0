import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEthernet } from '../ethernet.js';
import { parseIpv4, transportChecksum } from '../router/ipv4.js';
import { ip, testFrame, udpFrame } from '../test-frames.js';
import { VirtualSwitch } from '../virtual-switch.js';
import { type Action, type Instruction, type Match, OfError } from './codec.js';
import { OFP_NO_BUFFER, OFPFC, OFPFF, OFPP, OFPRR, OFPVID_PRESENT, OXM } from './constants.js';
import type { FlowEntry, FlowMod } from './flow-table.js';
import { Pipeline } from './pipeline.js';

const A = 0x020000000001;
const B = 0x020000000002;

function rig(now = { t: 0 }) {
  const sw = new VirtualSwitch({ name: 'pl' });
  const rx: Uint8Array[][] = [[], [], []];
  const ports = [0, 1, 2].map((i) =>
    sw.addPort({
      name: `p${i + 1}`,
      sink: (f) => {
        rx[i]!.push(f);
        return true;
      },
    }),
  );
  const removed: Array<{ e: FlowEntry; reason: number }> = [];
  const packetIns: number[] = [];
  const pl = new Pipeline(
    sw,
    { packetIn: (p) => packetIns.push(p.reason), flowRemoved: (e, reason) => removed.push({ e, reason }) },
    { now: () => now.t },
  );
  sw.setDatapath(pl.datapath);
  const send = (i: number, f: Uint8Array) => {
    ports[i]!.receive(f);
    sw.flush();
  };
  return { sw, rx, pl, send, removed, packetIns, now };
}

function mod(p: Partial<FlowMod> & { match: Match; instructions: Instruction[] }): FlowMod {
  return {
    cookie: 0n,
    cookieMask: 0n,
    tableId: 0,
    command: OFPFC.ADD,
    idleTimeout: 0,
    hardTimeout: 0,
    priority: 100,
    bufferId: OFP_NO_BUFFER,
    outPort: OFPP.ANY,
    outGroup: 0xffffffff,
    flags: 0,
    ...p,
  };
}

const out = (port: number): Action => ({ type: 'output', port, maxLen: 0 });
const apply = (...actions: Action[]): Instruction => ({ type: 'apply_actions', actions });

test('idle and hard timeouts remove entries and report FLOW_REMOVED when asked', () => {
  const r = rig();
  r.pl.flowMod(
    mod({
      match: [{ field: OXM.IN_PORT, value: 1 }],
      instructions: [apply(out(2))],
      idleTimeout: 5,
      flags: OFPFF.SEND_FLOW_REM,
    }),
  );
  r.pl.flowMod(
    mod({
      match: [{ field: OXM.IN_PORT, value: 2 }],
      instructions: [apply(out(1))],
      hardTimeout: 10,
      flags: OFPFF.SEND_FLOW_REM,
      priority: 7,
    }),
  );
  r.pl.flowMod(mod({ match: [{ field: OXM.IN_PORT, value: 3 }], instructions: [], idleTimeout: 1 })); // no flag
  r.now.t = 4000;
  r.send(0, testFrame(B, A)); // keeps the idle entry alive
  r.now.t = 8000;
  r.pl.expire();
  assert.deepEqual(
    r.removed.map((x) => x.reason),
    [],
    'idle entry used at 4 s is alive at 8 s; the unflagged one left silently',
  );
  assert.equal(r.pl.tables[0]!.entries.length, 3);
  r.now.t = 10_000;
  r.pl.expire();
  assert.deepEqual(
    r.removed.map((x) => [x.e.priority, x.reason]),
    [
      [100, OFPRR.IDLE_TIMEOUT],
      [7, OFPRR.HARD_TIMEOUT],
    ].sort((a, b) => b[0]! - a[0]!),
  );
  assert.equal(r.pl.tables[0]!.entries.length, 1, 'only the table-miss entry is left');
});

test('push_vlan + set_field vlan_vid tag the frame; pop_vlan removes the tag', () => {
  const r = rig();
  r.pl.flowMod(
    mod({
      match: [{ field: OXM.IN_PORT, value: 1 }],
      instructions: [
        apply(
          { type: 'push_vlan', ethertype: 0x8100 },
          { type: 'set_field', field: OXM.VLAN_VID, value: OFPVID_PRESENT | 42 },
          out(2),
        ),
      ],
    }),
  );
  r.pl.flowMod(
    mod({
      match: [{ field: OXM.VLAN_VID, value: OFPVID_PRESENT | 42 }],
      instructions: [apply({ type: 'pop_vlan' }, out(3))],
    }),
  );
  const f = testFrame(B, A, 64);
  r.send(0, f);
  assert.equal(parseEthernet(r.rx[1]![0]!)!.vlan?.vid, 42);
  assert.equal(r.rx[1]![0]!.length, 68);
  assert.equal(f.length, 64, 'the input frame is not modified');
  r.send(1, r.rx[1]![0]!);
  assert.deepEqual(r.rx[2]![0], f);
});

test('set_field ipv4_dst and udp_dst keep the IPv4 and UDP checksums valid', () => {
  const r = rig();
  r.pl.flowMod(
    mod({
      match: [
        { field: OXM.ETH_TYPE, value: 0x0800 },
        { field: OXM.IP_PROTO, value: 17 },
        { field: OXM.IPV4_DST, value: ip('10.0.0.0'), mask: 0xff000000 },
      ],
      instructions: [
        apply(
          { type: 'set_field', field: OXM.IPV4_DST, value: ip('192.168.1.9') },
          { type: 'set_field', field: OXM.UDP_DST, value: 9999 },
          out(2),
        ),
      ],
    }),
  );
  r.send(0, udpFrame(B, A, ip('10.1.1.1'), 1000, ip('10.2.2.2'), 53, new Uint8Array([1, 2, 3, 4, 5])));
  const f = r.rx[1]![0]!;
  const h = parseIpv4(f, 14);
  assert.ok(h, 'IPv4 header checksum valid');
  assert.equal(h.dst, ip('192.168.1.9'));
  const seg = f.subarray(34, 14 + h.totalLength);
  assert.equal((seg[2]! << 8) | seg[3]!, 9999);
  assert.equal(transportChecksum(h.src, h.dst, 17, seg), 0, 'UDP checksum valid');
});

test('write_actions and goto_table: the action set runs at the end, in spec order; clear_actions empties it', () => {
  const r = rig();
  r.pl.flowMod(
    mod({
      match: [{ field: OXM.IN_PORT, value: 1 }],
      instructions: [
        { type: 'write_actions', actions: [out(3)] },
        { type: 'goto_table', table: 2 },
      ],
    }),
  );
  r.pl.flowMod(
    mod({
      tableId: 2,
      match: [],
      priority: 0,
      instructions: [
        { type: 'write_actions', actions: [{ type: 'set_field', field: OXM.ETH_DST, value: 0x0200000000ff }] },
      ],
    }),
  );
  r.send(0, testFrame(B, A));
  assert.equal(r.rx[2]!.length, 1);
  assert.equal(parseEthernet(r.rx[2]![0]!)!.dst, 0x0200000000ff, 'set_field applied before output');
  r.pl.flowMod(
    mod({
      match: [{ field: OXM.IN_PORT, value: 2 }],
      instructions: [
        { type: 'write_actions', actions: [out(3)] },
        { type: 'goto_table', table: 3 },
      ],
    }),
  );
  r.pl.flowMod(mod({ tableId: 3, match: [], priority: 0, instructions: [{ type: 'clear_actions' }] }));
  r.send(1, testFrame(A, B));
  assert.equal(r.rx[2]!.length, 1, 'cleared: nothing output');
  assert.throws(
    () => r.pl.flowMod(mod({ tableId: 3, match: [], instructions: [{ type: 'goto_table', table: 1 }] })),
    OfError,
  );
});

test('masked matches on MACs and addresses; non-strict delete removes covered entries only; CHECK_OVERLAP', () => {
  const r = rig();
  r.pl.flowMod(
    mod({
      match: [{ field: OXM.ETH_DST, value: 0x020000000000, mask: 0xffffff000000 }],
      instructions: [apply(out(3))],
      priority: 50,
    }),
  );
  r.send(0, testFrame(B, A));
  assert.equal(r.rx[2]!.length, 1, '48-bit mask matched');
  r.pl.flowMod(
    mod({
      match: [
        { field: OXM.ETH_DST, value: 0x020000000002 },
        { field: OXM.IN_PORT, value: 1 },
      ],
      instructions: [],
      priority: 60,
    }),
  );
  r.pl.flowMod(mod({ command: OFPFC.DELETE, match: [{ field: OXM.IN_PORT, value: 1 }], instructions: [] }));
  const left = r.pl.tables[0]!.entries.map((e) => e.priority);
  assert.deepEqual(left, [50, 0], 'the in_port=1 entry was covered; the others were not');
  assert.throws(
    () =>
      r.pl.flowMod(
        mod({
          match: [{ field: OXM.ETH_DST, value: 0x020000000002 }],
          instructions: [],
          priority: 50,
          flags: OFPFF.CHECK_OVERLAP,
        }),
      ),
    (e: unknown) => e instanceof OfError && e.code === 3,
  );
});

test('without any entry the table misses and drops; output:CONTROLLER from the table-miss entry is NO_MATCH', () => {
  const r = rig();
  r.pl.flowMod(mod({ command: OFPFC.DELETE, tableId: 0xff, match: [], instructions: [] }));
  r.send(0, testFrame(B, A));
  assert.deepEqual(
    r.rx.map((x) => x.length),
    [0, 0, 0],
  );
  r.pl.flowMod(mod({ match: [], priority: 0, instructions: [apply(out(OFPP.CONTROLLER))] }));
  r.pl.flowMod(
    mod({ match: [{ field: OXM.IN_PORT, value: 2 }], priority: 5, instructions: [apply(out(OFPP.CONTROLLER))] }),
  );
  r.send(0, testFrame(B, A));
  r.send(1, testFrame(A, B));
  assert.deepEqual(r.packetIns, [0, 1]);
});

test('FLOOD, ALL and IN_PORT outputs: which ports a frame leaves by (spec 4.5), from a port and from the controller', () => {
  const r = rig();
  const counts = () => r.rx.map((x) => x.length);
  r.pl.flowMod(mod({ match: [{ field: OXM.IN_PORT, value: 1 }], instructions: [apply(out(OFPP.FLOOD))] }));
  r.pl.flowMod(mod({ match: [{ field: OXM.IN_PORT, value: 2 }], instructions: [apply(out(OFPP.ALL))] }));
  r.pl.flowMod(mod({ match: [{ field: OXM.IN_PORT, value: 3 }], instructions: [apply(out(OFPP.IN_PORT))] }));
  r.send(0, testFrame(B, A));
  assert.deepEqual(counts(), [0, 1, 1], 'FLOOD: every port but the ingress one');
  r.send(1, testFrame(A, B));
  assert.deepEqual(counts(), [1, 1, 2], 'ALL: every port but the ingress one');
  r.send(2, testFrame(A, B));
  assert.deepEqual(counts(), [1, 1, 3], 'IN_PORT: back out of the ingress port');
  // A packet-out from the controller has no ingress standard port: ALL and FLOOD reach every port; IN_PORT none.
  r.pl.packetOut(testFrame(A, B), OFPP.CONTROLLER, [out(OFPP.ALL)]);
  assert.deepEqual(counts(), [2, 2, 4]);
  r.pl.packetOut(testFrame(A, B), OFPP.CONTROLLER, [out(OFPP.FLOOD)]);
  assert.deepEqual(counts(), [3, 3, 5]);
  r.pl.packetOut(testFrame(A, B), OFPP.CONTROLLER, [out(OFPP.IN_PORT)]);
  assert.deepEqual(counts(), [3, 3, 5]);
  // A packet-out naming port 2 as its in_port: IN_PORT sends it there, ALL skips it.
  r.pl.packetOut(testFrame(A, B), 2, [out(OFPP.IN_PORT)]);
  assert.deepEqual(counts(), [3, 4, 5]);
  r.pl.packetOut(testFrame(A, B), 2, [out(OFPP.ALL)]);
  assert.deepEqual(counts(), [4, 4, 6]);
});
