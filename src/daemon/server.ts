import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import { buildApiServer } from '../api/api-server.js';
import { ImageService } from '../api/image-service.js';
import { WebUi } from '../api/web-ui.js';
import { StrataError } from '../base/errors.js';
import { ContainerManager } from '../services/containers/container-manager.js';
import { ImageStore } from '../services/images/image-store.js';
import { BuiltinEngine, isAlive } from '../services/instances/builtin-engine.js';
import { CgroupControls, cgroupScopeOf, type ResourceControls } from '../services/instances/cgroups.js';
import type { Engine, EngineName } from '../services/instances/engine.js';
import { EventLog } from '../services/instances/event-log.js';
import { InstanceManager } from '../services/instances/instance-manager.js';
import { OperationManager } from '../services/instances/operations.js';
import { QemuEngine } from '../services/instances/qemu-engine.js';
import { StateStore } from '../services/instances/state-store.js';
import { controlRequest, type NetworkStatus, networkPaths } from '../services/network/network-service.js';
import { NetworkStore } from '../services/network/network-store.js';
import { requestDialledPort } from '../services/network/switch-endpoint.js';
import { SandboxManager } from '../services/sandboxes/wasi-sandbox.js';
import { PoolRegistry } from '../services/storage/pools/pool-registry.js';
import { ensureServed } from './commands/network.js';
import { type DaemonInfo, daemonPaths, ensureToken, readDaemonInfo } from './daemon-files.js';
import { StoreImageResolver } from './image-resolver.js';
import { ContainerWorkloads, SandboxWorkloads } from './workloads.js';

/** The built web console (`npm run build` writes it), served at `/`. */
export const WEB_UI_DIR = new URL('../../dist/web/', import.meta.url);

/** How the daemon is started. */
export interface DaemonOptions {
  /** `$STRATA_HOME`. */
  home: string;
  /** TCP address; loopback by default. */
  host?: string;
  /** TCP port (0: any free port, written to `daemon/daemon.json`). */
  port?: number;
  version: string;
  env: NodeJS.ProcessEnv;
  /** argv prefix that runs `strata` (for VMM processes). */
  strataCommand: readonly string[];
  /** Where pino writes (default: stdout). */
  logFile?: string | undefined;
  /** Log level (default info). */
  logLevel?: string;
  /** Resource controls (default: detect cgroups). */
  controls?: ResourceControls;
  /** Engines (default: builtin and qemu); tests inject their own. */
  engines?: ReadonlyMap<EngineName, Engine>;
}

/** A running daemon. */
export interface RunningDaemon {
  url: string;
  socket: string;
  token: string;
  logger: Logger;
  instances: InstanceManager;
  /** Stops serving; VMs keep running (a later daemon re-attaches to them). */
  close(): Promise<void>;
}

/**
 * Starts the daemon: state store, engines, re-attachment to VMs left running by a previous daemon, and the API on
 * TCP (token required) and on the Unix socket `daemon/strata.sock` (mode 0600: the file permissions are the guard).
 */
export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const paths = daemonPaths(opts.home);
  const token = ensureToken(paths);
  const other = readDaemonInfo(paths);
  if (other && other.pid !== process.pid && isAlive(other.pid)) {
    throw new StrataError('CONFLICT', `a daemon already runs for ${opts.home} (pid ${other.pid}, ${other.url})`);
  }
  const logger = pino(
    { level: opts.logLevel ?? 'info', base: { pid: process.pid } },
    opts.logFile ? pino.destination({ dest: opts.logFile, mkdir: true, sync: false }) : pino.destination(1),
  );
  const store = new StateStore(paths.db);
  const events = new EventLog(store);
  const operations = new OperationManager(store, events);
  // Each daemon home has its own cgroup scope, so daemons of different homes never share an instance's group.
  const scope = cgroupScopeOf(opts.home);
  const controls = opts.controls ?? CgroupControls.detect(undefined, scope);
  logger.info({ controls: controls.support }, `resource controls: ${controls.support.summary}`);
  const engines =
    opts.engines ??
    new Map<EngineName, Engine>([
      ['builtin', new BuiltinEngine({ strataCommand: opts.strataCommand })],
      [
        'qemu',
        new QemuEngine({
          attachNic: async (nic, socketPath, nicBytesPerSec) => {
            const nets = new NetworkStore(nic.home);
            await ensureServed(nets, nic.network, opts.env);
            const port = await requestDialledPort(networkPaths(nets.runDir, nic.network).socket, {
              network: nic.network,
              name: nic.port,
              dial: socketPath,
              rateBytesPerSec: nicBytesPerSec,
            });
            return { portName: port.name };
          },
          nicCounters: async (nic) => {
            const status = await controlRequest<NetworkStatus>(new NetworkStore(nic.home).runDir, nic.network, {
              op: 'status',
            });
            const c = status.ports.find((p) => p.name === nic.portName)?.counters;
            // The switch port receives what the guest sends.
            return c && { rxBytes: c.txBytes, txBytes: c.rxBytes, rxPackets: c.txPackets, txPackets: c.rxPackets };
          },
        }),
      ],
    ]);
  const imageStore = new ImageStore(opts.home);
  const containers = new ContainerManager({ home: opts.home, cgroupParent: `/strata-containers/${scope}` });
  const sandboxes = new SandboxManager({ home: opts.home });
  const containerWorkloads = new ContainerWorkloads(
    containers,
    imageStore,
    {
      serve: async (name) => {
        const networks = new NetworkStore(opts.home);
        const spec = await networks.get(name);
        await ensureServed(networks, name, opts.env);
        return { endpointPath: networkPaths(networks.runDir, name).socket, dhcp: spec.dhcp && !!spec.subnet };
      },
    },
    { log: (msg) => logger.warn(msg) },
  );
  const instances = new InstanceManager({
    home: opts.home,
    store,
    events,
    operations,
    engines,
    images: new StoreImageResolver(imageStore),
    networkExists: (name) =>
      new NetworkStore(opts.home).get(name).then(
        () => true,
        () => false,
      ),
    serveNetwork: (name) => ensureServed(new NetworkStore(opts.home), name, opts.env),
    controls,
    workloads: {
      container: containerWorkloads,
      sandbox: new SandboxWorkloads(sandboxes),
    },
    log: (msg) => logger.info(msg),
  });
  const recovered = await instances.runtime.recover();
  logger.info(recovered, `re-attached ${recovered.attached.length} VM(s), ${recovered.lost.length} gone`);
  if (!(await containers.unavailableReason())) {
    const adopted = await containers.recover().catch((err: unknown) => {
      logger.warn({ err }, 'containers could not be recovered');
      return [] as string[];
    });
    if (adopted.length > 0) logger.info({ adopted }, `re-adopted ${adopted.length} running container(s)`);
    // Their TAP bridge helpers (started by an earlier daemon) are watched from now on.
    await containerWorkloads.adopt(adopted);
  }

  const unixSockets = new WeakSet<Socket>();
  let unixServer: Server | undefined;
  const { app } = await buildApiServer(
    {
      version: opts.version,
      instances,
      operations,
      events,
      images: new ImageService(
        imageStore,
        opts.env,
        async (name) =>
          instances.list().some((i) => i.image === name) ||
          (await containers.list().catch(() => [])).some((c) => c.image.name === name),
      ),
      engines,
      controls,
      networks: new NetworkStore(opts.home),
      pools: new PoolRegistry(opts.home),
    },
    {
      token,
      logger,
      isTrusted: (s) => unixSockets.has(s),
      webUi: new WebUi(fileURLToPath(WEB_UI_DIR)),
      serverFactory: (handler) => {
        const h = handler as (req: IncomingMessage, res: ServerResponse) => void;
        // Clients keep connections open; the servers keep idle ones longer than clients do (no reset races).
        const tcp = createServer(h);
        const unix = createServer(h);
        tcp.keepAliveTimeout = 65_000;
        unix.keepAliveTimeout = 65_000;
        unix.on('connection', (s: Socket) => unixSockets.add(s));
        // WebSocket upgrades on the Unix socket go through the same routes (and hooks) as on TCP.
        unix.on('upgrade', (req, socket, head) => tcp.emit('upgrade', req, socket, head));
        unixServer = unix;
        return tcp;
      },
    },
  );
  await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 8440 });
  const addr = app.server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  rmSync(paths.socket, { force: true });
  const unix = unixServer;
  if (!unix) throw new StrataError('INTERNAL', 'the Unix socket server was not created');
  await new Promise<void>((resolve, reject) => {
    unix.once('error', reject);
    unix.listen(paths.socket, () => resolve());
  });
  chmodSync(paths.socket, 0o600);
  const info: DaemonInfo = { pid: process.pid, url, socket: paths.socket, startedAt: new Date().toISOString() };
  writeFileSync(paths.info, JSON.stringify(info, null, 2), { mode: 0o600 });
  logger.info({ url, socket: paths.socket }, `strata daemon listening on ${url} and ${paths.socket}`);
  logger.info(`web console at ${url}/ (sign in with the token in ${paths.dir}/token)`);

  return {
    url,
    socket: paths.socket,
    token,
    logger,
    instances,
    async close() {
      logger.info('daemon stopping; VMs keep running');
      instances.runtime.detachAll();
      // Containers keep running (a later daemon adopts them); sandboxes are threads of this process and end.
      containerWorkloads.detach();
      containers.detach();
      await sandboxes.stopAll();
      unix.closeAllConnections();
      await new Promise<void>((resolve) => unix.close(() => resolve()));
      await app.close();
      await operations.drain(2000);
      store.close();
      // This home's cgroup scope goes unless a VM that keeps running still has its group in it.
      controls.close?.();
      rmSync(paths.info, { force: true });
      rmSync(paths.socket, { force: true });
      logger.flush();
    },
  };
}

/** The default log file of a daemon started in the background. */
export function defaultLogFile(home: string): string {
  return join(daemonPaths(home).dir, 'daemon.log');
}
