import type { ResourceControls } from '../services/instances/cgroups.js';
import type { Engine, EngineName } from '../services/instances/engine.js';
import type { EventLog } from '../services/instances/event-log.js';
import type { InstanceManager } from '../services/instances/instance-manager.js';
import type { OperationManager } from '../services/instances/operations.js';
import type { NetworkStore } from '../services/network/network-store.js';
import type { PoolRegistry } from '../services/storage/pools/pool-registry.js';
import type { ImageService } from './image-service.js';

/** What the API routes act on: the services, wired by the daemon. */
export interface ApiDeps {
  /** The daemon's version. */
  version: string;
  instances: InstanceManager;
  operations: OperationManager;
  events: EventLog;
  images: ImageService;
  engines: ReadonlyMap<EngineName, Engine>;
  controls: ResourceControls;
  /** The network definitions of the daemon's home. */
  networks: NetworkStore;
  /** The storage pools of the daemon's home. */
  pools: PoolRegistry;
}
