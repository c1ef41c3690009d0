import type { ResourceControls } from './cgroups.js';
import type { Engine, EngineName } from './engine.js';
import type { EventLog } from './event-log.js';
import type { OperationManager } from './operations.js';
import type { StateStore } from './state-store.js';

/** The boot files of an image, as the instance manager needs them. */
export interface ImageBootFiles {
  kernelPath: string;
  initrdPath?: string | undefined;
  firmwarePath?: string | undefined;
  cmdline: string;
  arch: string;
}

/** How the instance manager finds images (the image store, wired by the daemon). */
export interface ImageResolver {
  /** The boot files of image `name`, or undefined when there is no such image. */
  resolve(name: string): Promise<ImageBootFiles | undefined>;
}

/** What the instance manager is built from. */
export interface InstanceManagerDeps {
  /** `$STRATA_HOME`: instance folders go to `instances/<name>`, runtime folders to `run/<name>`. */
  home: string;
  store: StateStore;
  events: EventLog;
  operations: OperationManager;
  engines: ReadonlyMap<EngineName, Engine>;
  images: ImageResolver;
  /** True when a network of that name exists (absent: no network exists yet). */
  networkExists?: (name: string) => boolean | Promise<boolean>;
  /**
   * Makes sure a network is served before a VM joins it (absent: the VMM starts it). The daemon starts it itself so
   * the shared network process does not land in the cgroup of the first VM that joins.
   */
  serveNetwork?: (name: string) => Promise<void>;
  controls: ResourceControls;
  /** Containers and sandboxes (absent: this daemon runs VMs only). */
  workloads?: Partial<Record<WorkloadType, WorkloadBackend>> | undefined;
  log?: (msg: string) => void;
}

/** The kinds of instance: VMs (engines), system containers (runc) and WebAssembly sandboxes. */
export type InstanceType = 'vm' | 'container' | 'sandbox';

/** The instance types that are not VMs: each is served by a {@link WorkloadBackend}. */
export type WorkloadType = Exclude<InstanceType, 'vm'>;

/** A container or sandbox as the instance model shows it. */
export interface WorkloadView {
  name: string;
  /** `running`, `stopped` or `paused`. */
  status: 'running' | 'stopped' | 'paused';
  /** Image name (containers) or module file name (sandboxes). */
  image: string;
  /** Host pid of the container's init while it runs; null otherwise. */
  pid: number | null;
  /** The memory cap in bytes (0 when none). */
  memoryBytes: number;
  createdAt: string;
  /** Exit code of the last run (null when a signal or a limit ended it); undefined when it has not ended yet. */
  exitCode?: number | null | undefined;
  /** One line on how the last run ended, when not by a plain exit. */
  statusReason: string | null;
  /** The network it is attached to (containers), or null. */
  network?: string | null | undefined;
  /** Its IPv4 address on that network with the prefix length (`10.0.1.100/24`), while it has one. */
  ipv4?: string | null | undefined;
  /** The MAC address of its interface on that network. */
  mac?: string | null | undefined;
  /** Container settings (containers only). */
  container?: WorkloadContainerSettings | undefined;
  /** Sandbox settings (sandboxes only). */
  sandbox?: WorkloadSandboxSettings | undefined;
}

/** What a container was created with, and its OOM count. */
export interface WorkloadContainerSettings {
  hostname: string;
  /** The init process (argv). */
  command: string[];
  /** Memory cap in bytes; null: none. */
  memoryLimitBytes: number | null;
  /** Most processes and threads; null: no limit. */
  pidsLimit: number | null;
  cpuWeight: number | null;
  cpuQuotaPercent: number | null;
  /** OOM kills over all runs. */
  oomKills: number;
  /** Extra environment of its processes. */
  env: Record<string, string>;
}

/** What a sandbox was created with, and how its last run ended. */
export interface WorkloadSandboxSettings {
  /** CPU time budget of one run in ms. */
  cpuTimeLimitMs: number;
  /** Cap of the module's linear memory in bytes. */
  memoryLimitBytes: number;
  /** How the last run ended: exit, trap, cpu-limit, memory-limit, stopped, error; null before the first end. */
  lastEnd: string | null;
  /** argv[1..] of the module (argv[0] is the name). */
  args: string[];
  /** The module's environment. */
  env: Record<string, string>;
}

/** Usage of a running container or sandbox, in the fields VMs report where the meaning is the same. */
export interface WorkloadUsage {
  cpuSeconds: number;
  cpuThrottledSeconds: number | null;
  /** Containers: memory charged to the cgroup. Sandboxes: the module's linear memory. */
  memoryBytes: number;
  /** Containers: processes and threads now. */
  pids?: number | undefined;
  /** Containers: OOM kills over all runs. */
  oomKills?: number | undefined;
  /** Containers: block I/O of its processes (a sandbox has no disk: absent). */
  diskReadBytes?: number | undefined;
  diskWriteBytes?: number | undefined;
  diskReadOps?: number | undefined;
  diskWriteOps?: number | undefined;
  /** Containers: its interfaces but loopback (a sandbox has no network: absent). */
  nicRxBytes?: number | undefined;
  nicTxBytes?: number | undefined;
  nicRxPackets?: number | undefined;
  nicTxPackets?: number | undefined;
  consoleBytes: number;
}

/** Something that happened to a workload by itself (not through a lifecycle request). */
export type WorkloadEvent =
  | {
      /** Its init (container) or module (sandbox) ended. */
      kind: 'ended';
      /** The exit code, or null when a signal or a limit ended it. */
      exitCode: number | null;
      /** `exit`, `oom`, `signal`, `cpu-limit`, `memory-limit`, `trap`, `error` or `stopped`. */
      cause: string;
      /** One line. */
      reason: string;
    }
  | {
      /** The OOM killer ended a process of a running container (not its init). */
      kind: 'oom';
      oomKills: number;
      reason: string;
    }
  | {
      /**
       * A running container's network interface went away (its TAP bridge helper ended) and was attached again
       * (`reattached`), or could not be, and no more tries are made until it is started again (`lost`).
       */
      kind: 'nic';
      action: 'reattached' | 'lost';
      network: string;
      /** One line. */
      reason: string;
    };

/** What a create request gives a workload backend. */
export interface WorkloadCreateSpec {
  name: string;
  /** Container: the image name. Sandbox: a label for the module. */
  image: string;
  /** Sandbox: the module bytes. */
  module?: Uint8Array | undefined;
  /** Memory cap in bytes, when asked for. */
  memoryBytes?: number | undefined;
  /** Relative CPU weight (1-10000), when asked for. */
  cpuWeight?: number | undefined;
  /** CPU cap in percent of one CPU (0: none), when asked for. */
  cpuQuotaPercent?: number | undefined;
  /** Container: the network to attach to (checked to exist). */
  network?: string | undefined;
  /** Container: host name in its UTS namespace (default the name). */
  hostname?: string | undefined;
  /** Container: the init process argv (default the image's console shell). */
  command?: string[] | undefined;
  /** Container: most processes and threads. */
  pidsLimit?: number | undefined;
  /** Sandbox: CPU time budget of one run in ms. */
  cpuTimeLimitMs?: number | undefined;
  /** Sandbox: argv[1..] of the module. */
  args?: string[] | undefined;
  /** Environment of the module (sandbox) or of the container's processes. */
  env?: Record<string, string> | undefined;
  /** Sandbox: files put into its folder before the first start (path relative to the folder to bytes). */
  files?: Record<string, Uint8Array> | undefined;
}

/** A change of a workload's limits; fields left out keep their values. */
export interface WorkloadLimitsPatch {
  memoryBytes?: number | undefined;
  cpuWeight?: number | undefined;
  /** 0: no cap. */
  cpuQuotaPercent?: number | undefined;
  pidsLimit?: number | undefined;
  /** Sandboxes: CPU time budget of one run in ms. */
  cpuTimeLimitMs?: number | undefined;
}

/** What an exec returns. */
export interface WorkloadExecResult {
  exitCode: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
}

/** A console of a workload: history, live output, input. */
export interface WorkloadConsole {
  history: Uint8Array;
  close(): void;
  ended: Promise<void>;
  send(bytes: Uint8Array): Promise<void>;
}

/**
 * How the instance manager runs containers or sandboxes. The daemon wires one per type from the container and
 * sandbox services; the instance manager never imports them.
 */
export interface WorkloadBackend {
  /** Undefined when this type can run here, else why not (one line). */
  unavailableReason(): Promise<string | undefined>;
  /** True when a workload of that name exists. */
  has(name: string): Promise<boolean>;
  list(): Promise<WorkloadView[]>;
  /** NOT_FOUND when there is none. */
  info(name: string): Promise<WorkloadView>;
  /** Creates and starts it; a failure leaves nothing behind. */
  launch(spec: WorkloadCreateSpec): Promise<void>;
  start(name: string): Promise<void>;
  /** Ends it; the end it causes is sent (to `onEvent`) before this resolves. A restart is a stop, then a start. */
  stop(name: string, force: boolean): Promise<void>;
  pause(name: string): Promise<void>;
  resume(name: string): Promise<void>;
  /** Stops it (when `force`) and removes every trace; CONFLICT when it runs and `force` is not set. */
  delete(name: string, force: boolean): Promise<void>;
  /** Runs a command inside it (containers only; others refuse with CONFLICT). */
  exec(name: string, command: readonly string[], stdin: Uint8Array | undefined): Promise<WorkloadExecResult>;
  openConsole(name: string, listener: (bytes: Uint8Array) => void): Promise<WorkloadConsole>;
  /**
   * Writes a file at `path` (relative to its root: a sandbox's folder, a container's root file system), never
   * outside it; links are refused (sandbox) or resolved inside the root (container).
   */
  writeFile(name: string, path: string, bytes: Uint8Array): Promise<void>;
  /** Reads a file at `path` (relative to its root), with the same rules as `writeFile`. */
  readFile(name: string, path: string): Promise<Uint8Array>;
  /** Changes limits (live when it runs); a field it does not have is refused naming it. */
  updateLimits(name: string, patch: WorkloadLimitsPatch): Promise<void>;
  /** Counters of a running workload; undefined when it is stopped. */
  usage(name: string): Promise<WorkloadUsage | undefined>;
  /**
   * Tells `listener` what happens to workloads by themselves: an end not asked for (exit, OOM, CPU limit) and OOM
   * kills inside a running container. Ends caused by stop (also the stop of a restart) or delete are
   * reported too, before the stop or delete resolves; the instance manager tells them apart.
   */
  onEvent(listener: (name: string, event: WorkloadEvent) => void): void;
}
