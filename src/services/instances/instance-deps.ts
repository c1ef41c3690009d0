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
  log?: (msg: string) => void;
}
