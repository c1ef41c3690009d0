import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { arpFrame, ip, testFrame, udpFrame } from '../test-frames.js';
import { VirtualSwitch } from '../virtual-switch.js';
import { OpenFlowAgent } from './agent.js';
import { message, type Writer, writeInstructions, writeMatch } from './codec.js';
import { OFPC, OFPET, OFPP, OFPSCFC, OFPT, OXM } from './constants.js';

const run = promisify(execFile);
const hasOfctl = spawnSync('ovs-ofctl', ['--version']).status === 0;
const hasTestController = spawnSync('ovs-testcontroller', ['--version']).status === 0;
const A = 0x020000000001;
const B = 0x020000000002;
const C = 0x020000000003;
const BCAST = 0xffffffffffff;

async function rig(nPorts = 3) {
  const sw = new VirtualSwitch({ name: 'br-of' });
  const rx: Uint8Array[][] = [];
  const ports = Array.from({ length: nPorts }, (_, i) => {
    rx.push([]);
    return sw.addPort({
      name: `p${i + 1}`,
      sink: (f) => {
        rx[i]!.push(f);
        return true;
      },
    });
  });
  const agent = new OpenFlowAgent(sw);
  const port = await agent.start('ptcp:0:127.0.0.1');
  const target = `tcp:127.0.0.1:${port}`;
  const ofctl = async (...args: string[]) => {
    const opts: string[] = [];
    while (args[0]?.startsWith('--')) opts.push(args.shift()!);
    const [cmd, ...rest] = args;
    return (await run('ovs-ofctl', ['-O', 'OpenFlow13', ...opts, cmd!, target, ...rest])).stdout;
  };
  const send = (i: number, f: Uint8Array) => {
    ports[i]!.receive(f);
    sw.flush();
  };
  return { sw, rx, ports, agent, port, ofctl, send, close: () => agent.close() };
}

test('ovs-ofctl show, add-flow, dump-flows, del-flows, packet-out and dump-ports work against the agent', {
  skip: !hasOfctl && 'no ovs-ofctl',
}, async (t) => {
  const r = await rig();
  t.after(() => r.close());
  const show = await r.ofctl('show');
  assert.match(show, /n_tables:8/);
  assert.match(show, /1\(p1\): addr:02:fe:00:00:00:01/);
  assert.match(show, /3\(p3\)/);

  await r.ofctl('add-flow', 'priority=100,in_port=1,actions=output:3');
  await r.ofctl('add-flow', 'cookie=0x42,priority=200,ip,nw_dst=10.1.0.0/16,udp,tp_dst=53,actions=drop');
  await r.ofctl('add-flow', 'table=0,priority=50,dl_vlan=7,actions=pop_vlan,goto_table:2');
  await r.ofctl('add-flow', 'table=2,priority=1,actions=output:2');
  r.send(0, testFrame(B, A));
  assert.equal(r.rx[2]!.length, 1, 'flow in_port=1 -> 3');
  assert.equal(r.rx[1]!.length, 0);
  let flows = await r.ofctl('dump-flows');
  assert.match(flows, /n_packets=1, n_bytes=64, priority=100,in_port=1 actions=output:3/);
  assert.match(flows, /cookie=0x42.*priority=200,udp,nw_dst=10\.1\.0\.0\/16,tp_dst=53 actions=drop/);
  assert.match(flows, /table=2.*priority=1 actions=output:2/);
  assert.match(flows, /priority=0 actions=NORMAL/, 'standalone table-miss entry');

  // modify, cookie-filtered and strict deletes
  await r.ofctl('mod-flows', 'in_port=1,actions=output:2');
  r.send(0, testFrame(B, A));
  assert.equal(r.rx[1]!.length, 1, 'modified flow outputs to 2');
  await r.ofctl('del-flows', 'cookie=0x42/-1');
  flows = await r.ofctl('dump-flows');
  assert.doesNotMatch(flows, /cookie=0x42/);
  await r.ofctl('--strict', 'del-flows', 'priority=99,in_port=1');
  assert.match(await r.ofctl('dump-flows'), /in_port=1/, 'strict delete with another priority removes nothing');
  await r.ofctl('--strict', 'del-flows', 'priority=100,in_port=1');
  assert.doesNotMatch(await r.ofctl('dump-flows'), /in_port=1/);

  // packet-out from the controller to port 3
  const before = r.rx[2]!.length;
  await r.ofctl(
    'packet-out',
    `in_port=controller,packet=${Buffer.from(testFrame(C, A, 60)).toString('hex')},actions=output:3`,
  );
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(r.rx[2]!.length, before + 1, 'packet-out delivered');

  const ports = await r.ofctl('dump-ports');
  assert.match(ports, /port {2}1: rx pkts=2, bytes=128, drop=0, errs=0/);
  assert.match(ports, /port {2}3: rx pkts=0.*\n\s+tx pkts=2, bytes=124/);

  assert.match(await r.ofctl('dump-aggregate'), /flow_count=3/);
  assert.match(await r.ofctl('dump-tables'), /table 0:\s+active=2/);
  assert.match(await r.ofctl('dump-desc'), /DP Description: br-of/);
  assert.match(await r.ofctl('dump-table-features'), /table 0 \("table0"\)/);

  await r.ofctl('del-flows');
  assert.doesNotMatch(await r.ofctl('dump-flows'), /priority/);
  r.send(0, testFrame(BCAST, A));
  assert.equal(r.rx[1]!.length, 1, 'no flows at all: table miss drops (spec 5.4)');
});

test('ovs-ofctl: errors for bad requests come back as OpenFlow errors', {
  skip: !hasOfctl && 'no ovs-ofctl',
}, async (t) => {
  const r = await rig();
  t.after(() => r.close());
  await assert.rejects(r.ofctl('add-flow', 'table=9,actions=drop'), /OFPFMFC_BAD_TABLE_ID|BAD_TABLE_ID/);
  await assert.rejects(r.ofctl('add-flow', 'table=3,actions=goto_table:1'), /BAD_TABLE_ID/);
  assert.match(await r.ofctl('show'), /n_tables:8/, 'connection still served afterwards');
});

/** A minimal raw controller for protocol-level tests. */
async function rawController(port: number) {
  const sock = await new Promise<Socket>((res, rej) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => res(s));
    s.once('error', rej);
  });
  let buf = Buffer.alloc(0);
  const msgs: Buffer[] = [];
  let waiters: Array<() => void> = [];
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 8 && buf.length >= buf.readUInt16BE(2)) {
      const n = buf.readUInt16BE(2);
      msgs.push(buf.subarray(0, n));
      buf = buf.subarray(n);
    }
    for (const w of waiters.splice(0)) w();
  });
  const next = async (type: number, timeoutMs = 2000): Promise<Buffer> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = msgs.findIndex((m) => m[1] === type);
      if (i >= 0) return msgs.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no message of type ${type}`);
      await new Promise<void>((res) => {
        waiters.push(res);
        setTimeout(res, 50);
      });
    }
  };
  sock.write(message(OFPT.HELLO, 1));
  await next(OFPT.HELLO);
  return {
    sock,
    next,
    send: (b: Uint8Array) => sock.write(b),
    close: () => sock.destroy(),
    clear: () => (waiters = []),
  };
}

function flowMod(opts: {
  match: Parameters<typeof writeMatch>[1];
  actions: Parameters<typeof writeInstructions>[1];
  priority?: number;
  flags?: number;
  idle?: number;
  table?: number;
  command?: number;
}): Uint8Array {
  return message(OFPT.FLOW_MOD, 7, (w: Writer) => {
    w.u64(0)
      .u64(0)
      .u8(opts.table ?? 0)
      .u8(opts.command ?? 0)
      .u16(opts.idle ?? 0)
      .u16(0)
      .u16(opts.priority ?? 10);
    w.u32(0xffffffff)
      .u32(OFPP.ANY)
      .u32(0xffffffff)
      .u16(opts.flags ?? 0)
      .zeros(2);
    writeMatch(w, opts.match);
    writeInstructions(w, opts.actions);
  });
}

test('PACKET_IN, PORT_STATUS and FLOW_REMOVED reach a controller', async (t) => {
  const r = await rig();
  t.after(() => r.close());
  const c = await rawController(r.port);
  t.after(() => c.close());
  c.send(
    flowMod({
      match: [{ field: OXM.ETH_SRC, value: A }],
      actions: [{ type: 'apply_actions', actions: [{ type: 'output', port: OFPP.CONTROLLER, maxLen: 0xffff }] }],
    }),
  );
  c.send(message(OFPT.BARRIER_REQUEST, 9));
  await c.next(OFPT.BARRIER_REPLY);
  const f = testFrame(B, A, 80);
  r.send(0, f);
  const pin = await c.next(OFPT.PACKET_IN);
  assert.equal(pin.readUInt32BE(8), 0xffffffff, 'not buffered');
  assert.equal(pin.readUInt16BE(12), 80, 'total_len');
  assert.equal(pin[14], 1, 'reason OFPR_ACTION');
  assert.deepEqual(new Uint8Array(pin.subarray(pin.length - 80)), f);
  assert.equal(pin.readUInt32BE(16 + 8 + 4 + 4), 1, 'in_port OXM = 1');

  r.sw.addPort({ name: 'late', sink: () => true });
  const ps = await c.next(OFPT.PORT_STATUS);
  assert.equal(ps[8], 0, 'OFPPR_ADD');

  c.send(
    flowMod({
      match: [{ field: OXM.ETH_DST, value: C }],
      actions: [],
      flags: 1,
      priority: 33,
    }),
  );
  c.send(flowMod({ match: [{ field: OXM.ETH_DST, value: C }], actions: [], command: 4, priority: 33 }));
  const fr = await c.next(OFPT.FLOW_REMOVED);
  assert.equal(fr.readUInt16BE(16), 33, 'priority');
  assert.equal(fr[18], 2, 'OFPRR_DELETE');
});

test('malformed messages get OpenFlow errors and never crash the agent', async (t) => {
  const r = await rig();
  t.after(() => r.close());
  const c = await rawController(r.port);
  t.after(() => c.close());
  const expectError = async (msg: Uint8Array, type: number, code: number) => {
    c.send(msg);
    const e = await c.next(OFPT.ERROR);
    assert.deepEqual(
      [e.readUInt16BE(8), e.readUInt16BE(10)],
      [type, code],
      `error for ${Buffer.from(msg.subarray(0, 16)).toString('hex')}`,
    );
  };
  await expectError(message(99, 3), OFPET.BAD_REQUEST, 1);
  await expectError(
    message(OFPT.FEATURES_REQUEST, 3, (w) => w.u32(0)),
    OFPET.BAD_REQUEST,
    6,
  );
  await expectError(
    message(OFPT.FLOW_MOD, 3, (w) => w.u64(0)),
    OFPET.BAD_REQUEST,
    6,
  );
  await expectError(
    flowMod({ match: [{ field: OXM.TCP_DST, value: 80 }], actions: [] }),
    OFPET.BAD_MATCH,
    9, // BAD_PREREQ
  );
  await expectError(
    message(OFPT.FLOW_MOD, 3, (w) => {
      w.u64(0).u64(0).u8(0).u8(0).u16(0).u16(0).u16(1).u32(0xffffffff).u32(OFPP.ANY).u32(0xffffffff).u16(0).zeros(2);
      w.u16(1)
        .u16(12)
        .u16(0x8000)
        .u8(99 << 1)
        .u8(4)
        .u32(0)
        .zeros(4); // unknown field 99
    }),
    OFPET.BAD_MATCH,
    6,
  );
  await expectError(
    message(OFPT.FLOW_MOD, 3, (w) => {
      w.u64(0).u64(0).u8(0).u8(0).u16(0).u16(0).u16(1).u32(0xffffffff).u32(OFPP.ANY).u32(0xffffffff).u16(0).zeros(2);
      w.u16(1).u16(4).zeros(4);
      w.u16(4).u16(24).zeros(4).u16(0).u16(16).u32(0).u16(0).zeros(6); // output to port 0
    }),
    OFPET.BAD_ACTION,
    4,
  );
  await expectError(
    message(OFPT.MULTIPART_REQUEST, 3, (w) => w.u16(77).u16(0).zeros(4)),
    OFPET.BAD_REQUEST,
    2,
  );
  await expectError(
    message(OFPT.PACKET_OUT, 3, (w) => w.u32(5).u32(1).u16(0).zeros(6).zeros(60)),
    OFPET.BAD_REQUEST,
    8,
  );
  // A fuzz of random bodies behind valid headers: every one is answered or ignored, and the agent stays up.
  let seed = 12345;
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 8;
  };
  for (let i = 0; i < 2000; i++) {
    const type = rnd() % 32;
    if (type === OFPT.HELLO || type === OFPT.ECHO_REQUEST) continue;
    const len = rnd() % 200;
    c.send(
      message(type, i, (w) => {
        for (let k = 0; k < len; k++) w.u8(rnd());
      }),
    );
  }
  c.send(message(OFPT.ECHO_REQUEST, 0xabc, (w) => w.u32(0xdeadbeef)));
  const echo = await c.next(OFPT.ECHO_REPLY, 5000);
  assert.equal(echo.readUInt32BE(4), 0xabc);
  assert.equal(echo.readUInt32BE(8), 0xdeadbeef);
  // A header with a length below 8 cannot be resynchronized: error, then close.
  const closed = new Promise((res) => c.sock.once('close', res));
  c.send(new Uint8Array([4, 2, 0, 4, 0, 0, 0, 1]));
  await closed;
  // The agent still serves new controllers.
  const c2 = await rawController(r.port);
  c2.send(message(OFPT.BARRIER_REQUEST, 5));
  await c2.next(OFPT.BARRIER_REPLY);
  c2.close();
});

test('ovs-testcontroller drives the switch (connecting with tcp:) as an L2 learning switch', {
  skip: !hasTestController && 'no ovs-testcontroller',
}, async (t) => {
  const free = await new Promise<number>((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'strata-tc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ctl = spawn('ovs-testcontroller', ['-v', `--unixctl=${join(dir, 'ctl')}`, `ptcp:${free}:127.0.0.1`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  ctl.stderr.on('data', (d: Buffer) => {
    log += d.toString();
  });
  t.after(() => {
    if (process.env.STRATA_DEBUG_OF) process.stderr.write(log);
  });
  t.after(() => ctl.kill());
  const sw = new VirtualSwitch({ name: 'br-tc' });
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
  const agent = new OpenFlowAgent(sw);
  t.after(() => agent.close());
  await new Promise((res) => setTimeout(res, 300));
  await agent.start(`tcp:127.0.0.1:${free}`);
  for (let i = 0; i < 50 && agent.connections.size === 0; i++) await new Promise((res) => setTimeout(res, 100));
  assert.equal(agent.connections.size, 1, 'connected to ovs-testcontroller');
  await new Promise((res) => setTimeout(res, 300)); // its handshake: features, flow table setup
  const waitFor = async (cond: () => boolean) => {
    for (let i = 0; i < 100 && !cond(); i++) await new Promise((res) => setTimeout(res, 20));
    return cond();
  };
  const send = (i: number, f: Uint8Array) => {
    ports[i]!.receive(f);
    sw.flush();
  };
  send(0, testFrame(B, A)); // unknown destination: the controller floods it
  assert.ok(await waitFor(() => rx[1]!.length === 1 && rx[2]!.length === 1), 'flooded by the controller');
  send(1, testFrame(A, B)); // A was learned: only to port 1
  assert.ok(await waitFor(() => rx[0]!.length === 1), 'delivered to the learned port');
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(rx[2]!.length, 1, 'not flooded to port 3');
  send(0, testFrame(B, A));
  assert.ok(await waitFor(() => rx[1]!.length === 2), 'A->B forwarded');
  assert.equal(rx[2]!.length, 1);
  const flows = agent.pipeline.tables[0]!.entries;
  assert.ok(
    flows.some((e) => e.match.some((m) => m.field === OXM.ETH_DST)),
    'the controller installed flows',
  );
  // Controller gone: fail mode standalone, the switch learns on its own (NORMAL) instead of dropping.
  assert.equal(agent.usingFlowTables, true);
  ctl.kill();
  for (let i = 0; i < 100 && agent.connections.size > 0; i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(agent.usingFlowTables, false);
  const before = rx[0]!.length;
  send(2, testFrame(A, C));
  assert.equal(rx[0]!.length, before + 1, 'forwarded without a controller');
});

test('GET_CONFIG answers the switch configuration; SET_CONFIG FRAG_DROP drops IP fragments; REASM is refused', async (t) => {
  const r = await rig();
  t.after(() => r.close());
  const c = await rawController(r.port);
  t.after(() => c.close());
  const getConfig = async (ctl: typeof c, xid: number): Promise<[number, number]> => {
    ctl.send(message(OFPT.GET_CONFIG_REQUEST, xid));
    const m = await ctl.next(OFPT.GET_CONFIG_REPLY);
    assert.equal(m.length, 12, 'ofp_switch_config is 12 bytes (spec 7.3.2)');
    assert.equal(m.readUInt32BE(4), xid, 'the reply carries the request xid');
    return [m.readUInt16BE(8), m.readUInt16BE(10)];
  };
  const setConfig = (flags: number, missSendLen: number) =>
    message(OFPT.SET_CONFIG, 21, (w) => w.u16(flags).u16(missSendLen));
  // Spec 7.3.2: defaults are OFPC_FRAG_NORMAL and OFPCML_DEFAULT (128).
  assert.deepEqual(await getConfig(c, 31), [OFPC.FRAG_NORMAL, 128]);

  await r.ofctl('add-flow', 'priority=100,in_port=1,actions=output:3');
  const whole = udpFrame(B, A, ip('10.0.0.1'), 1000, ip('10.0.0.2'), 53, new Uint8Array(20));
  const firstFragment = Uint8Array.from(whole);
  firstFragment[14 + 6] = 0x20; // More Fragments, offset 0
  const laterFragment = Uint8Array.from(whole);
  laterFragment[14 + 6] = 0x00;
  laterFragment[14 + 7] = 0x03; // offset 3 * 8 bytes, last fragment
  r.send(0, firstFragment);
  r.send(0, laterFragment);
  assert.equal(r.rx[2]!.length, 2, 'FRAG_NORMAL: fragments go through the tables');

  c.send(setConfig(OFPC.FRAG_DROP, 256));
  assert.deepEqual(await getConfig(c, 32), [OFPC.FRAG_DROP, 256], 'SET_CONFIG took effect');
  r.send(0, firstFragment);
  r.send(0, laterFragment);
  r.send(0, whole);
  assert.equal(r.rx[2]!.length, 3, 'FRAG_DROP: both fragments dropped, the unfragmented datagram forwarded');
  assert.match(await r.ofctl('dump-flows'), /n_packets=3,.*in_port=1 actions=output:3/, 'dropped before the tables');

  // The fragment mode is switch state, seen by every controller; miss_send_len belongs to the connection.
  const c2 = await rawController(r.port);
  t.after(() => c2.close());
  assert.deepEqual(await getConfig(c2, 33), [OFPC.FRAG_DROP, 128]);

  // OFPC_FRAG_REASM needs OFPC_IP_REASM, not among the capabilities: refused, nothing changed.
  c.send(setConfig(OFPC.FRAG_REASM, 64));
  const e = await c.next(OFPT.ERROR);
  assert.deepEqual([e.readUInt16BE(8), e.readUInt16BE(10)], [OFPET.SWITCH_CONFIG_FAILED, OFPSCFC.BAD_FLAGS]);
  assert.deepEqual(await getConfig(c, 34), [OFPC.FRAG_DROP, 256]);

  c.send(setConfig(OFPC.FRAG_NORMAL, 0xffff));
  assert.deepEqual(await getConfig(c, 35), [OFPC.FRAG_NORMAL, 0xffff]);
  r.send(0, laterFragment);
  assert.equal(r.rx[2]!.length, 4, 'back to FRAG_NORMAL');
});

test('ovs-ofctl: arp_op and arp_tpa matches select only the matching ARP frames', {
  skip: !hasOfctl && 'no ovs-ofctl',
}, async (t) => {
  const r = await rig();
  t.after(() => r.close());
  await r.ofctl('add-flow', 'priority=100,arp,arp_op=1,arp_tpa=10.0.0.2,actions=output:3');
  await r.ofctl('add-flow', 'priority=1,actions=output:2');
  r.send(0, arpFrame(1, A, ip('10.0.0.1'), 0, ip('10.0.0.2'))); // request for 10.0.0.2: matches
  assert.deepEqual([r.rx[1]!.length, r.rx[2]!.length], [0, 1], 'request for .2 out of port 3');
  r.send(0, arpFrame(2, A, ip('10.0.0.1'), B, ip('10.0.0.2'))); // a reply (arp_op=2): no match
  r.send(0, arpFrame(1, A, ip('10.0.0.1'), 0, ip('10.0.0.3'))); // a request for another address: no match
  assert.deepEqual([r.rx[1]!.length, r.rx[2]!.length], [2, 1], 'reply and other target out of port 2');
  const flows = await r.ofctl('dump-flows');
  assert.match(flows, /n_packets=1, .*priority=100,arp,arp_tpa=10\.0\.0\.2,arp_op=1 actions=output:3/);
  assert.match(flows, /n_packets=2, .*priority=1 actions=output:2/);
});

test('ovs-ofctl: a masked ipv4_src match (nw_src=10.1.0.0/16) matches the prefix only', {
  skip: !hasOfctl && 'no ovs-ofctl',
}, async (t) => {
  const r = await rig();
  t.after(() => r.close());
  await r.ofctl('add-flow', 'priority=100,ip,nw_src=10.1.0.0/16,actions=output:3');
  await r.ofctl('add-flow', 'priority=1,actions=output:2');
  const from = (src: string) => udpFrame(B, A, ip(src), 1000, ip('192.168.0.1'), 53, new Uint8Array(8));
  r.send(0, from('10.1.0.1'));
  r.send(0, from('10.1.255.254'));
  assert.deepEqual([r.rx[1]!.length, r.rx[2]!.length], [0, 2], 'inside 10.1.0.0/16: port 3');
  r.send(0, from('10.2.0.1'));
  r.send(0, from('10.0.255.255'));
  r.send(0, from('11.1.0.1'));
  assert.deepEqual([r.rx[1]!.length, r.rx[2]!.length], [3, 2], 'outside the prefix: port 2');
  const flows = await r.ofctl('dump-flows');
  assert.match(flows, /n_packets=2, .*priority=100,ip,nw_src=10\.1\.0\.0\/16 actions=output:3/);
});

test('ovs-ofctl: output to FLOOD, ALL and IN_PORT (spec 4.5 reserved ports)', {
  skip: !hasOfctl && 'no ovs-ofctl',
}, async (t) => {
  const r = await rig(4);
  t.after(() => r.close());
  await r.ofctl('mod-port', '4', 'down'); // OFPPC_PORT_DOWN: "should not be used by OpenFlow" (spec 7.2.1)
  await r.ofctl('add-flow', 'priority=100,in_port=1,actions=FLOOD');
  await r.ofctl('add-flow', 'priority=100,in_port=2,actions=ALL');
  await r.ofctl('add-flow', 'priority=100,in_port=3,actions=IN_PORT');
  await r.ofctl('add-flow', 'priority=100,in_port=4,actions=output:4');
  const counts = () => r.rx.map((x) => x.length);
  // FLOOD: all standard ports but the ingress port (and blocked / down ones).
  r.send(0, testFrame(B, A));
  assert.deepEqual(counts(), [0, 1, 1, 0]);
  // ALL: all standard ports excluding the ingress port (and OFPPC_NO_FWD ones); port 4 is down, so nothing leaves it.
  r.send(1, testFrame(A, B));
  assert.deepEqual(counts(), [1, 1, 2, 0]);
  // IN_PORT: back out of the ingress port only.
  r.send(2, testFrame(A, C));
  assert.deepEqual(counts(), [1, 1, 3, 0]);
  // output:N with N the ingress port sends nothing: going back needs IN_PORT (spec A.2.5 / 7.2.5).
  await r.ofctl('mod-port', '4', 'up');
  r.send(3, testFrame(A, C));
  assert.deepEqual(counts(), [1, 1, 3, 0]);
  const flows = await r.ofctl('dump-flows');
  assert.match(flows, /in_port=1 actions=FLOOD/);
  assert.match(flows, /in_port=2 actions=ALL/);
  assert.match(flows, /in_port=3 actions=IN_PORT/);
});
