import type { InstanceUsage } from '../services/instances/instance-runtime.js';
import type { InstanceRecord } from '../services/instances/state-store.js';

interface Metric {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  value: (r: InstanceRecord, u: InstanceUsage | undefined) => number | undefined;
}

const METRICS: readonly Metric[] = [
  {
    name: 'strata_instance_up',
    help: 'Whether the instance has a running VMM (1) or not (0).',
    type: 'gauge',
    value: (_r, u) => (u ? 1 : 0),
  },
  {
    name: 'strata_instance_cpu_seconds_total',
    help: 'CPU time used by the instance VMM process.',
    type: 'counter',
    value: (_r, u) => u?.cpuSeconds,
  },
  {
    name: 'strata_instance_cpu_throttled_seconds_total',
    help: 'Time the instance was throttled by its CPU quota.',
    type: 'counter',
    value: (_r, u) => u?.cpuThrottledSeconds ?? undefined,
  },
  {
    name: 'strata_instance_memory_rss_bytes',
    help: 'Resident memory of the instance VMM process.',
    type: 'gauge',
    value: (_r, u) => u?.memoryRssBytes,
  },
  {
    name: 'strata_instance_memory_limit_bytes',
    help: 'Guest memory of the instance (its hard cap).',
    type: 'gauge',
    value: (r) => r.memoryBytes,
  },
  { name: 'strata_instance_vcpus', help: 'vCPUs of the instance.', type: 'gauge', value: (r) => r.cpus },
  {
    name: 'strata_instance_disk_read_bytes_total',
    help: 'Bytes read from the instance root disk.',
    type: 'counter',
    value: (_r, u) => u?.diskReadBytes,
  },
  {
    name: 'strata_instance_disk_write_bytes_total',
    help: 'Bytes written to the instance root disk.',
    type: 'counter',
    value: (_r, u) => u?.diskWriteBytes,
  },
  {
    name: 'strata_instance_disk_read_ops_total',
    help: 'Read requests to the instance root disk.',
    type: 'counter',
    value: (_r, u) => u?.diskReadOps,
  },
  {
    name: 'strata_instance_disk_write_ops_total',
    help: 'Write requests to the instance root disk.',
    type: 'counter',
    value: (_r, u) => u?.diskWriteOps,
  },
  {
    name: 'strata_instance_nic_rx_bytes_total',
    help: 'Bytes the instance NIC received.',
    type: 'counter',
    value: (_r, u) => u?.nicRxBytes,
  },
  {
    name: 'strata_instance_nic_tx_bytes_total',
    help: 'Bytes the instance NIC sent.',
    type: 'counter',
    value: (_r, u) => u?.nicTxBytes,
  },
  {
    name: 'strata_instance_nic_rx_packets_total',
    help: 'Frames the instance NIC received.',
    type: 'counter',
    value: (_r, u) => u?.nicRxPackets,
  },
  {
    name: 'strata_instance_nic_tx_packets_total',
    help: 'Frames the instance NIC sent.',
    type: 'counter',
    value: (_r, u) => u?.nicTxPackets,
  },
  {
    name: 'strata_instance_console_bytes_total',
    help: 'Bytes the instance wrote to its serial console.',
    type: 'counter',
    value: (_r, u) => u?.consoleBytes,
  },
];

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Renders per-instance counters in the Prometheus text exposition format (version 0.0.4): one family per metric,
 * labelled by instance and engine; values missing for a stopped instance are left out.
 */
export function renderMetrics(
  rows: readonly { record: InstanceRecord; usage: InstanceUsage | undefined }[],
  extra: Record<string, number>,
): string {
  const out: string[] = [];
  for (const m of METRICS) {
    out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    for (const { record, usage } of rows) {
      const v = m.value(record, usage);
      if (v === undefined) continue;
      out.push(`${m.name}{instance="${label(record.name)}",engine="${record.engine}"} ${v}`);
    }
  }
  for (const [name, value] of Object.entries(extra)) {
    out.push(`# TYPE ${name} gauge`, `${name} ${value}`);
  }
  return `${out.join('\n')}\n`;
}
