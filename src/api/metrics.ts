import type { WorkloadUsage } from '../services/instances/instance-deps.js';
import type { InstanceManager } from '../services/instances/instance-manager.js';
import type { InstanceUsage } from '../services/instances/instance-runtime.js';

/** Usage of a running instance of any type, in the API's shape (the one `GET /1.0/instances/{name}/state` gives). */
export type ApiUsage = InstanceUsage & { pids?: number | undefined; oomKills?: number | undefined };

/**
 * A container's or sandbox's usage in the instance usage shape: `memoryRssBytes` and `guestMemoryBytes` are the
 * memory the workload itself holds (a container's cgroup charge, a sandbox module's linear memory); a sandbox has
 * no disk and no NIC, so those counters are 0 in the API and absent from the metrics.
 */
export function apiUsageOf(u: WorkloadUsage): ApiUsage {
  return {
    cpuSeconds: u.cpuSeconds,
    memoryRssBytes: u.memoryBytes,
    guestMemoryBytes: u.memoryBytes,
    diskReadBytes: u.diskReadBytes ?? 0,
    diskWriteBytes: u.diskWriteBytes ?? 0,
    diskReadOps: u.diskReadOps ?? 0,
    diskWriteOps: u.diskWriteOps ?? 0,
    nicRxBytes: u.nicRxBytes ?? 0,
    nicTxBytes: u.nicTxBytes ?? 0,
    nicRxPackets: u.nicRxPackets ?? 0,
    nicTxPackets: u.nicTxPackets ?? 0,
    consoleBytes: u.consoleBytes,
    cpuThrottledSeconds: u.cpuThrottledSeconds,
    ...(u.pids !== undefined ? { pids: u.pids } : {}),
    ...(u.oomKills !== undefined ? { oomKills: u.oomKills } : {}),
  };
}

/** One instance as the metrics see it: its labels, its sizes, and its usage while it runs. */
export interface MetricRow {
  name: string;
  type: 'vm' | 'container' | 'sandbox';
  engine: string;
  /** vCPUs (VMs only). */
  cpus?: number | undefined;
  /** The memory cap in bytes (absent: none). */
  memoryLimitBytes?: number | undefined;
  /** Usage while running; undefined when stopped. */
  usage: ApiUsage | undefined;
  /** Counters a type does not have (a sandbox's disk and NIC) are left out rather than shown as 0. */
  without?: ReadonlySet<keyof ApiUsage> | undefined;
}

/** A metric family: name, kind, help, and how a row gives its value (undefined: no sample for that row). */
type Family = readonly [
  name: string,
  kind: 'counter' | 'gauge',
  help: string,
  value: (r: MetricRow) => number | undefined,
];

/** A family read straight from one usage counter (the same meaning for every instance type that has it). */
function fromUsage(name: string, kind: 'counter' | 'gauge', help: string, key: keyof ApiUsage): Family {
  return [
    name,
    kind,
    help,
    (r) => {
      if (!r.usage || r.without?.has(key)) return undefined;
      const v = r.usage[key];
      return typeof v === 'number' ? v : undefined;
    },
  ];
}

const FAMILIES: readonly Family[] = [
  ['strata_instance_up', 'gauge', 'Whether the instance runs (1) or not (0).', (r) => (r.usage ? 1 : 0)],
  fromUsage('strata_instance_cpu_seconds_total', 'counter', 'CPU time used by the instance.', 'cpuSeconds'),
  fromUsage(
    'strata_instance_cpu_throttled_seconds_total',
    'counter',
    'Time the instance was throttled by its CPU quota.',
    'cpuThrottledSeconds',
  ),
  fromUsage(
    'strata_instance_memory_rss_bytes',
    'gauge',
    'Memory the instance holds: VMM resident memory, container cgroup charge, sandbox linear memory.',
    'memoryRssBytes',
  ),
  [
    'strata_instance_memory_limit_bytes',
    'gauge',
    'Memory cap of the instance (VM guest memory, container or sandbox limit).',
    (r) => r.memoryLimitBytes,
  ],
  ['strata_instance_vcpus', 'gauge', 'vCPUs of the instance.', (r) => r.cpus],
  fromUsage(
    'strata_instance_disk_read_bytes_total',
    'counter',
    'Bytes read from disk by the instance.',
    'diskReadBytes',
  ),
  fromUsage(
    'strata_instance_disk_write_bytes_total',
    'counter',
    'Bytes written to disk by the instance.',
    'diskWriteBytes',
  ),
  fromUsage('strata_instance_disk_read_ops_total', 'counter', 'Disk read requests of the instance.', 'diskReadOps'),
  fromUsage('strata_instance_disk_write_ops_total', 'counter', 'Disk write requests of the instance.', 'diskWriteOps'),
  fromUsage('strata_instance_nic_rx_bytes_total', 'counter', 'Bytes the instance NIC received.', 'nicRxBytes'),
  fromUsage('strata_instance_nic_tx_bytes_total', 'counter', 'Bytes the instance NIC sent.', 'nicTxBytes'),
  fromUsage('strata_instance_nic_rx_packets_total', 'counter', 'Frames the instance NIC received.', 'nicRxPackets'),
  fromUsage('strata_instance_nic_tx_packets_total', 'counter', 'Frames the instance NIC sent.', 'nicTxPackets'),
  fromUsage(
    'strata_instance_console_bytes_total',
    'counter',
    'Bytes the instance wrote to its console.',
    'consoleBytes',
  ),
  fromUsage('strata_instance_pids', 'gauge', 'Processes and threads in the container.', 'pids'),
  fromUsage('strata_instance_oom_kills_total', 'counter', 'OOM kills in the container over all runs.', 'oomKills'),
];

/** Usage counters a sandbox does not have (no disk, no NIC). */
const SANDBOX_WITHOUT: ReadonlySet<keyof ApiUsage> = new Set<keyof ApiUsage>([
  'diskReadBytes',
  'diskWriteBytes',
  'diskReadOps',
  'diskWriteOps',
  'nicRxBytes',
  'nicTxBytes',
  'nicRxPackets',
  'nicTxPackets',
]);

/** Every instance of every type as metric rows: VMs with their VMM usage, containers and sandboxes with theirs. */
export async function metricRows(instances: InstanceManager): Promise<MetricRow[]> {
  const vms = await Promise.all(
    instances.list().map(
      async (r): Promise<MetricRow> => ({
        name: r.name,
        type: 'vm',
        engine: r.engine,
        cpus: r.cpus,
        memoryLimitBytes: r.memoryBytes,
        usage: await instances.runtime.usage(r.name),
      }),
    ),
  );
  const workloads = (await instances.workloadUsages()).map(
    ({ view, usage }): MetricRow => ({
      name: view.name,
      type: view.type,
      engine: view.engine,
      memoryLimitBytes: view.container
        ? (view.container.memoryLimitBytes ?? undefined)
        : view.sandbox?.memoryLimitBytes,
      usage: usage ? apiUsageOf(usage) : undefined,
      without: view.type === 'sandbox' ? SANDBOX_WITHOUT : undefined,
    }),
  );
  return [...vms, ...workloads];
}

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Renders per-instance counters in the Prometheus text exposition format (version 0.0.4): one family per metric,
 * labelled by instance, type and engine; values an instance does not have (or not while stopped) are left out.
 */
export function renderMetrics(rows: readonly MetricRow[], extra: Record<string, number>): string {
  const out: string[] = [];
  for (const [name, kind, help, value] of FAMILIES) {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`);
    for (const r of rows) {
      const v = value(r);
      if (v === undefined) continue;
      out.push(`${name}{instance="${label(r.name)}",type="${r.type}",engine="${label(r.engine)}"} ${v}`);
    }
  }
  for (const [name, value] of Object.entries(extra)) {
    out.push(`# TYPE ${name} gauge`, `${name} ${value}`);
  }
  return `${out.join('\n')}\n`;
}
