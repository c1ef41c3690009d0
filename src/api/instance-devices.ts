import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Static } from '@sinclair/typebox';
import type { InstanceUsage } from '../services/instances/instance-runtime.js';
import { macOf } from '../services/instances/instance-runtime.js';
import { controlRequest, type NetworkStatus, readRuntime } from '../services/network/network-service.js';
import type { ApiDeps } from './api-deps.js';
import { apiUsageOf } from './metrics.js';
import type { Instance, InstanceDisk, InstanceMetrics, InstanceNic, Usage } from './schema/instances.js';

/** MAC (lower case) to leased IPv4 address, per network; one status request per network and lookup round. */
export class LeaseLookup {
  private readonly tables = new Map<string, Promise<Map<string, string>>>();

  constructor(private readonly deps: ApiDeps) {}

  /**
   * The IPv4 address network `network`'s DHCP server leased to `mac`, or null: the lease table comes from the
   * process serving the network (the same `status` request `strata network show` makes). A network no process
   * serves has no leases.
   */
  async ipv4(network: string, mac: string): Promise<string | null> {
    let table = this.tables.get(network);
    if (!table) {
      table = this.read(network);
      this.tables.set(network, table);
    }
    return (await table).get(mac.toLowerCase()) ?? null;
  }

  private async read(network: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const runDir = this.deps.networks.runDir;
    if (!(await readRuntime(runDir, network))) return out;
    try {
      const st = await controlRequest<NetworkStatus>(runDir, network, { op: 'status' });
      for (const l of st.leases) {
        // An offer is not an address yet: only a bound lease is the guest's.
        if (l.state === 'bound') out.set(l.mac.toLowerCase(), l.ip);
      }
    } catch {
      // The network stopped between the runtime check and the request: it has no leases now.
    }
    return out;
  }
}

/** Host bytes a file takes, or null when it cannot be read. */
async function allocatedBytes(path: string): Promise<number | null> {
  try {
    return (await stat(path)).blocks * 512;
  } catch {
    return null;
  }
}

/** The NICs of an instance with their leased addresses and counters (`usage`: null when it is not running). */
export async function instanceNics(
  deps: ApiDeps,
  inst: Pick<Instance, 'id' | 'type' | 'network'>,
  usage: Static<typeof Usage> | InstanceUsage | null,
  leases: LeaseLookup,
  /** A container's NIC as its backend knows it (its MAC, and the address its DHCP client applied). */
  workloadNic?: { mac: string | null; ipv4: string | null },
): Promise<InstanceNic[]> {
  if (inst.network === null) return [];
  const spec = await deps.networks.get(inst.network).catch(() => undefined);
  // VMs get their MAC from their id; a container's comes from its backend.
  const mac = inst.type === 'vm' ? macOf(inst.id) : (workloadNic?.mac ?? null);
  let ipv4: string | null = null;
  if (usage && mac) ipv4 = (await leases.ipv4(inst.network, mac)) ?? workloadNic?.ipv4 ?? null;
  return [
    {
      name: 'eth0',
      network: inst.network,
      mac,
      vlan: spec?.vlan ?? null,
      ipv4,
      rxBytes: usage?.nicRxBytes ?? 0,
      txBytes: usage?.nicTxBytes ?? 0,
      rxPackets: usage?.nicRxPackets ?? 0,
      txPackets: usage?.nicTxPackets ?? 0,
    },
  ];
}

/** The disks of an instance: a VM's root disk (a sparse raw file in its folder) with its counters. */
export async function instanceDisks(
  deps: ApiDeps,
  inst: Pick<Instance, 'name' | 'type' | 'diskSizeBytes'>,
  usage: Static<typeof Usage> | InstanceUsage | null,
): Promise<InstanceDisk[]> {
  if (inst.type !== 'vm') return [];
  return [
    {
      name: 'root',
      sizeBytes: inst.diskSizeBytes,
      allocatedBytes: await allocatedBytes(join(deps.instances.instanceDir(inst.name), 'disk.raw')),
      format: 'raw',
      pool: null,
      volume: null,
      readBytes: usage?.diskReadBytes ?? 0,
      writeBytes: usage?.diskWriteBytes ?? 0,
      readOps: usage?.diskReadOps ?? 0,
      writeOps: usage?.diskWriteOps ?? 0,
    },
  ];
}

/** How often running instances are sampled while someone follows the event stream. */
export const METRICS_INTERVAL_MS = 2000;

/**
 * Sends a `metrics` event (transient: not kept) for every running instance (VM, container, sandbox) about every two seconds, but only while the
 * event stream has live subscribers: nobody watching, no sampling. A new subscriber gets the latest samples at once.
 */
export class MetricsFeed {
  private timer: ReturnType<typeof setInterval> | undefined;
  private watchers = 0;
  private readonly latest = new Map<string, InstanceMetrics>();
  private sampling = false;

  constructor(private readonly deps: ApiDeps) {}

  /** A subscriber joined; returns the latest samples to send it first. */
  join(): InstanceMetrics[] {
    this.watchers++;
    if (!this.timer) {
      this.timer = setInterval(() => void this.sample(), METRICS_INTERVAL_MS);
      this.timer.unref();
      void this.sample();
    }
    return [...this.latest.values()];
  }

  /** A subscriber left. */
  leave(): void {
    this.watchers = Math.max(0, this.watchers - 1);
    if (this.watchers === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.latest.clear();
    }
  }

  private publish(m: InstanceMetrics): void {
    this.latest.set(m.name, m);
    if (this.timer) this.deps.events.publish('metrics', `/1.0/instances/${m.name}`, { ...m });
  }

  /** Stops sampling (server close). */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const im = this.deps.instances;
      const leases = new LeaseLookup(this.deps);
      const running = new Set(im.runtime.runningNames());
      for (const name of running) {
        const usage = await im.runtime.usage(name).catch(() => undefined);
        const record = this.deps.instances.list().find((r) => r.name === name);
        if (!usage || !record) continue;
        const inst = { ...record, type: 'vm' as const };
        const m: InstanceMetrics = {
          name,
          usage: { ...usage, nicRxPackets: usage.nicRxPackets ?? 0, nicTxPackets: usage.nicTxPackets ?? 0 },
          nics: await instanceNics(this.deps, inst, usage, leases),
          disks: await instanceDisks(this.deps, inst, usage),
        };
        this.publish(m);
      }
      // Containers and sandboxes: the same sample from their cgroups or worker.
      for (const { view, usage } of await im.workloadUsages().catch(() => [])) {
        if (!usage) continue;
        running.add(view.name);
        const api = apiUsageOf(usage);
        const nic = view.network === null ? undefined : await im.workloadNic(view.name).catch(() => undefined);
        this.publish({
          name: view.name,
          usage: api,
          nics: await instanceNics(this.deps, view, api, leases, nic),
          disks: [],
        });
      }
      for (const name of this.latest.keys()) if (!running.has(name)) this.latest.delete(name);
    } finally {
      this.sampling = false;
    }
  }
}
