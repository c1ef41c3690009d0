import type { VmmExit, VmmNicConfig, VmmRateLimits, VmmState, VmmStats } from '../../hypervisor/vmm-protocol.js';

/** The engines an instance can run on. */
export type EngineName = 'builtin' | 'qemu';

/** Every engine name, the default first. */
export const ENGINE_NAMES: readonly EngineName[] = ['builtin', 'qemu'];

/** What an engine boots: the instance's resources and files, resolved by the instance manager. */
export interface EngineVmSpec {
  /** Instance name. */
  name: string;
  /** The instance's runtime folder (sockets, definition, logs); exists and is private. */
  runDir: string;
  memoryBytes: number;
  cpus: number;
  kernelPath: string;
  initrdPath?: string | undefined;
  firmwarePath?: string | undefined;
  cmdline: string;
  /** The root disk (raw), when the instance has one. */
  diskPath?: string | undefined;
  /** The image's architecture (`riscv64`), to decide on hardware acceleration. */
  arch: string;
  /** Network cards (absent or empty: none). */
  nics?: VmmNicConfig[] | undefined;
  limits: VmmRateLimits;
}

/** Something that receives console output. */
export type ConsoleListener = (bytes: Uint8Array) => void;

/** A live console subscription: the kept history first, then every new byte to the listener. */
export interface ConsoleSubscription {
  /** The last (up to) 1 MiB of output before the subscription started. */
  history: Uint8Array;
  /** Ends the subscription. */
  close(): void;
  /** Settles when the console ends (the subscription was closed, or the VM is gone). */
  ended: Promise<void>;
}

/** One running (or configured) VM of an engine: one VMM process. */
export interface VmHandle {
  /** The VMM process id. */
  readonly pid: number;
  /** Boots the configured VM. */
  start(signal?: AbortSignal): Promise<void>;
  /** Stops running guest instructions. */
  pause(): Promise<void>;
  /** Runs again after pause. */
  resume(): Promise<void>;
  /** Stops the guest (a clean shutdown when the engine can ask for one, else a power cut) and ends the VMM. */
  stop(force: boolean, signal?: AbortSignal): Promise<void>;
  /** The VMM's view of the VM. */
  state(): Promise<VmmState>;
  /** Counters and usage. */
  stats(): Promise<VmmStats>;
  /** Changes the rate limits of a running VM. */
  setLimits(limits: VmmRateLimits): Promise<void>;
  /** Subscribes to console output. */
  subscribeConsole(listener: ConsoleListener): Promise<ConsoleSubscription>;
  /** Sends console input to the guest. */
  sendConsole(bytes: Uint8Array): Promise<void>;
  /** Runs `listener` once when the VMM is gone, with how the guest ended (a crash is kind `error`). */
  onGone(listener: (exit: VmmExit) => void): void;
  /** Lets go of the VMM without stopping it (daemon shutdown). */
  detach(): void;
}

/**
 * An engine: how VMs run. Every engine passes the same conformance suite (`engine.suite.ts`). An engine never keeps
 * state the daemon needs across restarts outside the instance's runtime folder, so `attach` can find a VM again.
 */
export interface Engine {
  readonly name: EngineName;
  /** Undefined when the engine can run VMs on this host, else why not (one line). */
  unavailableReason(): Promise<string | undefined>;
  /** Starts a VMM for `spec` in the configured (pre-boot) state. */
  create(spec: EngineVmSpec, signal?: AbortSignal): Promise<VmHandle>;
  /**
   * Finds the VMM of a VM created earlier (by this or a previous daemon) from its runtime folder. Resolves with the
   * handle, or with how the VM ended when its VMM is gone.
   */
  attach(runDir: string, signal?: AbortSignal): Promise<VmHandle | { gone: VmmExit }>;
}

/** A NIC of a QEMU VM once it has joined its network: where, and under which switch port name. */
export interface QemuNic {
  network: string;
  home: string;
  portName: string;
}

/** NIC traffic from the guest's side. */
export interface NicCounters {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
}
