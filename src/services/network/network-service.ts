/**
 * Running networks without a daemon. One process serves a "group": a network with a router of its own, or every
 * network that names the same router (`NetworkSpec.router`), so that router forwards between their subnets. For
 * each network of the group it runs a switch with an OpenFlow agent (listening on 127.0.0.1 by default, so
 * `ovs-ofctl` can talk to it), the router interface (gateway, DHCP, DNS, NAT as defined), the switch endpoint
 * socket through which `strata run` processes attach their NICs, and a small control socket (status, flow table,
 * capture). Everything it owns lives under `$STRATA_HOME/run/`:
 *
 *   net-NAME.sock   switch endpoint (see switch-endpoint.ts)
 *   net-NAME.ctl    control socket: one JSON request line, one JSON answer line
 *   net-NAME.json   runtime facts for `network show`: pid, OpenFlow port, sockets
 *   group-KEY.pid   the group's lock: the pid of the serving process (KEY is `net-NAME` or `router-NAME`)
 *
 * `serveNetworkGroup` is the function a host process (`strata network serve`, later the daemon) calls; it ends
 * by itself once no NIC has been attached for `idleSeconds`.
 */

import { readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import { macToString } from './ethernet.js';
import { endpointPath } from './network-host.js';
import { gatewayCidr, type NetworkSpec, type NetworkStore } from './network-store.js';
import { OpenFlowAgent, parseControllerTarget } from './openflow/agent.js';
import type { Action, Instruction, Match } from './openflow/codec.js';
import { OFPP, OFPVID_PRESENT, OXM, OXM_INFO } from './openflow/constants.js';
import type { FlowEntry } from './openflow/flow-table.js';
import { allEntries } from './openflow/pipeline.js';
import type { PortCounters, VlanMode } from './port.js';
import { type DnsUpstream, systemResolver } from './router/dns-forwarder.js';
import { ipToString } from './router/ipv4.js';
import { type RouterInterface, VirtualRouter } from './router/router.js';
import { SwitchEndpointServer } from './switch-endpoint.js';
import { VirtualSwitch } from './virtual-switch.js';

/** Runtime facts of a served network, as written to `net-NAME.json`. */
export interface NetworkRuntime {
  network: string;
  pid: number;
  /** The switch endpoint socket. */
  socket: string;
  /** The control socket. */
  control: string;
  /** The OpenFlow agent: a listener (`ptcp`, with the bound port) or a connection to a controller (`tcp`). */
  openflow: { mode: 'ptcp' | 'tcp'; host: string; port: number };
  /** OpenFlow datapath id (16 hex digits). */
  datapathId: string;
  startedAt: string;
}

/**
 * A network as the API and `strata network list|show` describe it: its definition with the gateway resolved and
 * whether a process serves it (the API adds the instances that use it, which only the daemon knows).
 */
export interface NetworkSummary {
  name: string;
  subnet: string | null;
  /** The router's address (without prefix), null without a subnet. */
  gateway: string | null;
  /** Access VLAN; null: the default, 1. */
  vlan: number | null;
  dhcp: boolean;
  nat: boolean;
  router: string | null;
  openflow: string | null;
  createdAt: string;
  running: boolean;
  runtime: NetworkRuntime | null;
}

/** The summary of network `spec`, served by the process of `runtime` (null: not served). */
export function networkSummary(spec: NetworkSpec, runtime: NetworkRuntime | null): NetworkSummary {
  return {
    name: spec.name,
    subnet: spec.subnet ?? null,
    // Without one named, the router takes the subnet's first address.
    gateway: gatewayCidr(spec)?.split('/')[0] ?? null,
    vlan: spec.vlan ?? null,
    dhcp: spec.dhcp,
    nat: spec.nat,
    router: spec.router ?? null,
    openflow: spec.openflow ?? null,
    createdAt: spec.createdAt,
    running: runtime !== null,
    runtime,
  };
}

/** One port of a served switch, as the control socket reports it. */
export interface PortStatus {
  no: number;
  name: string;
  vlan: VlanMode;
  counters: PortCounters;
}

/** One flow entry for display. */
export interface FlowRow {
  table: number;
  priority: number;
  match: string;
  actions: string;
  cookie: string;
  packets: number;
  bytes: number;
  durationS: number;
  idleTimeout: number;
  hardTimeout: number;
}

/** What `status` answers. */
export interface NetworkStatus {
  runtime: NetworkRuntime;
  ports: PortStatus[];
  leases: { ip: string; mac: string; state: string; hostname?: string }[];
  attached: number;
}

/** Options of `serveNetworkGroup`. */
export interface ServeGroupOptions {
  /** Seconds without attached NICs after which the group stops (0: never). Default 10. */
  idleSeconds?: number;
  /** DNS upstream for networks with NAT (default the host's first nameserver); null: no DNS forwarding. */
  dnsUpstream?: DnsUpstream | null;
  /** Host address NAT connects to (default 127.0.0.1). */
  natHostAddress?: string;
}

/** The lock key of the group `spec` belongs to. */
export function groupKey(spec: Pick<NetworkSpec, 'name' | 'router'>): string {
  return spec.router ? `router-${spec.router}` : `net-${spec.name}`;
}

/** Paths of network `name`'s files under `runDir`. */
export function networkPaths(runDir: string, name: string): { socket: string; control: string; runtime: string } {
  const socket = endpointPath(runDir, name);
  return { socket, control: join(runDir, `net-${name}.ctl`), runtime: join(runDir, `net-${name}.json`) };
}

/** True when process `pid` exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The runtime facts of network `name` when a live process serves it, else undefined. */
export async function readRuntime(runDir: string, name: string): Promise<NetworkRuntime | undefined> {
  try {
    const r = JSON.parse(await readFile(networkPaths(runDir, name).runtime, 'utf8')) as NetworkRuntime;
    return processAlive(r.pid) ? r : undefined;
  } catch {
    return undefined;
  }
}

interface Served {
  spec: NetworkSpec;
  sw: VirtualSwitch;
  agent: OpenFlowAgent;
  endpoint: SwitchEndpointServer;
  control: Server;
  iface: RouterInterface | undefined;
  runtime: NetworkRuntime;
}

/** A running group of networks. */
export class NetworkGroupHost {
  /** Settles once the group has stopped (idle, or `close`). */
  readonly stopped: Promise<void>;
  private resolveStopped!: () => void;
  private idleTimer: NodeJS.Timeout | undefined;
  private busyControl = 0;
  private closing = false;
  private readonly controlSockets = new Set<Socket>();

  /** @internal use serveNetworkGroup */
  constructor(
    readonly key: string,
    readonly networks: Map<string, Served>,
    readonly router: VirtualRouter | undefined,
    private readonly runDir: string,
    private readonly lockPath: string,
  ) {
    this.stopped = new Promise((r) => {
      this.resolveStopped = r;
    });
  }

  /** NICs attached to any network of the group. */
  get attached(): number {
    let n = 0;
    for (const s of this.networks.values()) n += s.endpoint.connections;
    return n;
  }

  /** @internal starts the idle check */
  watchIdle(idleSeconds: number): void {
    if (idleSeconds <= 0) return;
    let idleSince = Date.now();
    this.idleTimer = setInterval(() => {
      if (this.attached > 0 || this.busyControl > 0) idleSince = Date.now();
      else if (Date.now() - idleSince >= idleSeconds * 1000) void this.close();
    }, 250);
  }

  /** Stops every network of the group and removes its files. */
  async close(): Promise<void> {
    if (this.closing) return this.stopped;
    this.closing = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    for (const s of this.controlSockets) s.destroy();
    for (const s of this.networks.values()) {
      await s.endpoint.close();
      await new Promise<void>((r) => s.control.close(() => r()));
      await s.agent.close();
      const p = networkPaths(this.runDir, s.spec.name);
      await unlink(p.control).catch(() => {});
      await unlink(p.runtime).catch(() => {});
    }
    this.router?.close();
    for (const s of this.networks.values()) s.sw.close();
    await unlink(this.lockPath).catch(() => {});
    this.resolveStopped();
  }

  /** @internal one control request */
  async control(served: Served, req: ControlRequest, sock: Socket): Promise<unknown> {
    switch (req.op) {
      case 'status':
        return this.status(served);
      case 'flows':
        return allEntries(served.agent.pipeline).map(flowRow);
      case 'capture':
        return this.capture(served, req, sock);
      default:
        throw new StrataError(
          'INVALID_ARGUMENT',
          `unknown control request ${JSON.stringify((req as { op: unknown }).op)}`,
        );
    }
  }

  /** @internal */
  trackControl(sock: Socket, delta: number): void {
    this.busyControl += delta;
    if (delta > 0) this.controlSockets.add(sock);
    else this.controlSockets.delete(sock);
  }

  private status(s: Served): NetworkStatus {
    return {
      runtime: s.runtime,
      ports: s.sw.ports().map((p) => ({ no: p.no, name: p.name, vlan: p.vlan, counters: { ...p.counters } })),
      leases: (s.iface?.dhcp?.list() ?? []).map((l) => ({
        ip: ipToString(l.ip),
        mac: macToString(l.mac),
        state: l.state,
        ...(l.hostname ? { hostname: l.hostname } : {}),
      })),
      attached: s.endpoint.connections,
    };
  }

  private capture(
    s: Served,
    req: Extract<ControlRequest, { op: 'capture' }>,
    sock: Socket,
  ): Promise<{ frames: number; dropped: number }> {
    const port = /^\d+$/.test(req.port) ? s.sw.port(Number(req.port)) : s.sw.portByName(req.port);
    if (!port) {
      const names = s.sw.ports().map((p) => `${p.no}:${p.name}`);
      throw new StrataError(
        'NOT_FOUND',
        `network '${s.spec.name}' has no port '${req.port}' (ports: ${names.join(', ') || 'none'})`,
      );
    }
    const writer = s.sw.capture(port.no, req.path);
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(poll);
        void writer.close().then(() => resolve({ frames: writer.written, dropped: writer.dropped }));
      };
      const timer = setTimeout(finish, req.durationMs ?? 0x7fffffff);
      const poll = setInterval(() => {
        if ((req.count !== undefined && writer.written >= req.count) || !port.up || this.closing) finish();
      }, 20);
      const write = writer.write.bind(writer);
      writer.write = (f) => {
        if (req.count !== undefined && writer.written >= req.count) return;
        write(f);
        if (req.count !== undefined && writer.written >= req.count) finish();
      };
      // The client ends the capture early by sending anything more (a "stop" line), or by going away.
      sock.once('close', finish);
      sock.on('data', finish);
    });
  }
}

/** Requests of the control socket. */
export type ControlRequest =
  | { op: 'status' }
  | { op: 'flows' }
  | { op: 'capture'; port: string; path: string; count?: number; durationMs?: number };

/**
 * Serves network `name` and the other networks of its group. Throws ALREADY_EXISTS when another live process
 * serves the group, NOT_FOUND for an unknown network.
 */
export async function serveNetworkGroup(
  store: NetworkStore,
  name: string,
  opts: ServeGroupOptions = {},
): Promise<NetworkGroupHost> {
  const specs = await store.group(name);
  const first = specs.find((s) => s.name === name) ?? specs[0]!;
  const key = groupKey(first);
  await mkdir(store.runDir, { recursive: true, mode: 0o755 });
  const lockPath = join(store.runDir, `group-${key}.pid`);
  await takeLock(lockPath, name);
  const networks = new Map<string, Served>();
  let router: VirtualRouter | undefined;
  try {
    if (specs.some((s) => s.subnet)) {
      const wantDns = specs.some((s) => s.nat);
      const dns = !wantDns || opts.dnsUpstream === null ? undefined : (opts.dnsUpstream ?? systemResolver());
      router = new VirtualRouter({ dnsUpstream: dns, natHostAddress: opts.natHostAddress });
    }
    for (const spec of specs) {
      const paths = networkPaths(store.runDir, spec.name);
      const vlan: VlanMode = { mode: 'access', vlan: spec.vlan ?? 1 };
      const sw = new VirtualSwitch({ name: spec.name });
      const iface =
        router && spec.subnet
          ? router.addInterface({
              name: `gw-${spec.name}`.slice(0, 15),
              switch: sw,
              address: gatewayCidr(spec)!,
              vlan,
              dhcp: spec.dhcp ? undefined : false,
              nat: spec.nat,
              dns: spec.nat && router.hasDns,
            })
          : undefined;
      const target = parseControllerTarget(spec.openflow ?? 'ptcp:0:127.0.0.1');
      const agent = new OpenFlowAgent(sw);
      const ofPort = await agent.start(target);
      const endpoint = await SwitchEndpointServer.listen(paths.socket, sw, { network: spec.name, defaultVlan: vlan });
      const runtime: NetworkRuntime = {
        network: spec.name,
        pid: process.pid,
        socket: paths.socket,
        control: paths.control,
        openflow: { mode: target.mode, host: target.host, port: ofPort },
        datapathId: sw.datapathId,
        startedAt: new Date().toISOString(),
      };
      const served: Served = { spec, sw, agent, endpoint, control: createServer(), iface, runtime };
      networks.set(spec.name, served);
      await unlink(paths.control).catch(() => {});
      await new Promise<void>((resolve, reject) => {
        served.control.once('error', (e) =>
          reject(new StrataError('IO', `cannot listen on ${paths.control}: ${e.message}`)),
        );
        served.control.listen(paths.control, () => resolve());
      });
      // A control request can write a capture to any path: only the owner may connect.
      await chmod(paths.control, 0o600);
      await writeFile(paths.runtime, `${JSON.stringify(runtime, null, 2)}\n`);
    }
  } catch (e) {
    for (const s of networks.values()) {
      await s.endpoint.close();
      s.control.close();
      await s.agent.close();
    }
    router?.close();
    await unlink(lockPath).catch(() => {});
    throw e;
  }
  const host = new NetworkGroupHost(key, networks, router, store.runDir, lockPath);
  for (const served of networks.values()) {
    served.control.on('connection', (sock) => serveControl(host, served, sock));
  }
  host.watchIdle(opts.idleSeconds ?? 10);
  return host;
}

function serveControl(host: NetworkGroupHost, served: Served, sock: Socket): void {
  let buf = '';
  let started = false;
  sock.on('error', () => sock.destroy());
  sock.on('data', (d: Buffer) => {
    if (started) return;
    buf += d.toString('utf8');
    if (buf.length > 64 * 1024) {
      sock.destroy();
      return;
    }
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    started = true;
    host.trackControl(sock, 1);
    let req: ControlRequest;
    const answer = (o: unknown) => {
      host.trackControl(sock, -1);
      if (!sock.destroyed) sock.end(`${JSON.stringify(o)}\n`);
    };
    try {
      req = JSON.parse(buf.slice(0, nl)) as ControlRequest;
    } catch {
      answer({ ok: false, code: 'INVALID_ARGUMENT', error: 'control request is not JSON' });
      return;
    }
    host.control(served, req, sock).then(
      (result) => answer({ ok: true, result }),
      (e: unknown) =>
        answer({
          ok: false,
          code: e instanceof StrataError ? e.code : 'INTERNAL',
          error: e instanceof Error ? e.message : String(e),
        }),
    );
  });
}

/** Takes the group lock (a pid file created exclusively); a lock of a dead process is taken over. */
async function takeLock(path: string, name: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner = 0;
    try {
      owner = Number(readFileSync(path, 'utf8'));
    } catch {
      continue;
    }
    if (owner > 0 && processAlive(owner)) {
      throw new StrataError('ALREADY_EXISTS', `network '${name}' is already served by process ${owner}`);
    }
    await unlink(path).catch(() => {});
  }
  throw new StrataError('UNAVAILABLE', `cannot take the lock ${path} for network '${name}'`);
}

/**
 * Sends one control request to the process serving network `name`; NOT_FOUND when nothing serves it. The
 * answer's errors come back as StrataErrors with the server's code.
 */
export async function controlRequest<T>(
  runDir: string,
  name: string,
  req: ControlRequest,
  /** Aborting sends "stop": a running capture ends and answers with what it has. */
  signal?: AbortSignal,
  /**
   * How long to wait for the answer before giving up with UNAVAILABLE (a hung network process must not hang a
   * metrics scrape or `network show`); default 10 s for status and flows, none for a capture (it has its own end).
   */
  timeoutMs: number | undefined = req.op === 'capture' ? undefined : 10_000,
): Promise<T> {
  const path = networkPaths(runDir, name).control;
  const sock = await new Promise<Socket>((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', () =>
      reject(new StrataError('NOT_FOUND', `network '${name}' is not running (no NIC is attached to it)`)),
    );
  });
  return new Promise<T>((resolve, reject) => {
    let buf = '';
    let timedOut = false;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            sock.destroy();
          }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      if (timedOut) {
        reject(
          new StrataError('UNAVAILABLE', `network '${name}' did not answer a ${req.op} request within ${timeoutMs} ms`),
        );
        return;
      }
      try {
        const a = JSON.parse(buf) as { ok: boolean; result?: T; code?: string; error?: string };
        if (a.ok) resolve(a.result as T);
        else reject(new StrataError((a.code ?? 'INTERNAL') as 'INTERNAL', a.error ?? 'control request failed'));
      } catch {
        reject(new StrataError('UNAVAILABLE', `network '${name}' closed the control connection`));
      }
    });
    sock.write(`${JSON.stringify(req)}\n`);
    signal?.addEventListener('abort', () => sock.write('stop\n'), { once: true });
  });
}

/** True when something accepts connections on the Unix socket `path`. */
export function socketLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * Makes sure network `name` is served: when its endpoint does not answer, calls `start` (which launches a serving
 * process) and waits until the endpoint answers. Several callers may race: the group lock lets one server win and
 * everyone waits for its socket.
 */
export async function ensureNetworkServed(
  store: NetworkStore,
  name: string,
  start: () => void,
  timeoutMs = 20_000,
): Promise<void> {
  await store.get(name);
  const { socket } = networkPaths(store.runDir, name);
  if (await socketLive(socket)) return;
  start();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    if (await socketLive(socket)) return;
  }
  throw new StrataError('UNAVAILABLE', `network '${name}' did not start within ${timeoutMs / 1000} s`);
}

/** A flow entry as a display row (ovs-ofctl-like match and action text). */
export function flowRow(e: FlowEntry): FlowRow {
  return {
    table: e.tableId,
    priority: e.priority,
    match: matchText(e.match),
    actions: instructionsText(e.instructions),
    cookie: `0x${e.cookie.toString(16)}`,
    packets: e.packetCount,
    bytes: e.byteCount,
    durationS: Math.round((performance.now() - e.installedMs) / 100) / 10,
    idleTimeout: e.idleTimeout,
    hardTimeout: e.hardTimeout,
  };
}

function fieldText(field: number, value: number, mask?: number): string {
  const info = OXM_INFO.get(field);
  const bytes = info?.bytes ?? 4;
  const name = info?.name ?? `field${field}`;
  const show = (v: number): string => {
    if (bytes === 6) return macToString(v);
    if (field === OXM.IPV4_SRC || field === OXM.IPV4_DST || field === OXM.ARP_SPA || field === OXM.ARP_TPA)
      return ipToString(v);
    if (field === OXM.ETH_TYPE) return `0x${v.toString(16).padStart(4, '0')}`;
    if (field === OXM.VLAN_VID) return v & OFPVID_PRESENT ? String(v & 0xfff) : 'none';
    if (field === OXM.IN_PORT) return portText(v);
    return String(v);
  };
  return mask === undefined ? `${name}=${show(value)}` : `${name}=${show(value)}/${show(mask)}`;
}

function matchText(m: Match): string {
  return m.length === 0 ? '*' : m.map((f) => fieldText(f.field, f.value, f.mask)).join(',');
}

function portText(p: number): string {
  for (const [k, v] of Object.entries(OFPP)) if (v === p && k !== 'MAX') return k;
  return String(p);
}

function actionText(a: Action): string {
  switch (a.type) {
    case 'output':
      return `output:${portText(a.port)}`;
    case 'push_vlan':
      return `push_vlan:0x${a.ethertype.toString(16)}`;
    case 'pop_vlan':
      return 'pop_vlan';
    case 'set_field':
      return `set_field:${fieldText(a.field, a.value)}`;
    case 'dec_nw_ttl':
      return 'dec_ttl';
  }
}

function instructionsText(insts: Instruction[]): string {
  const parts: string[] = [];
  for (const i of insts) {
    if (i.type === 'apply_actions') parts.push(...i.actions.map(actionText));
    else if (i.type === 'write_actions') parts.push(`write_actions(${i.actions.map(actionText).join(',')})`);
    else if (i.type === 'clear_actions') parts.push('clear_actions');
    else parts.push(`goto_table:${i.table}`);
  }
  return parts.length === 0 ? 'drop' : parts.join(',');
}
