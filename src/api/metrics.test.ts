import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiUsageOf, type MetricRow, renderMetrics } from './metrics.js';

const counters = {
  cpuSeconds: 1.5,
  cpuThrottledSeconds: null,
  memoryBytes: 4096,
  consoleBytes: 10,
};

test('VMs, containers and sandboxes share metric names; counters a type lacks are left out, not 0', () => {
  const rows: MetricRow[] = [
    {
      name: 'vm1',
      type: 'vm',
      engine: 'builtin',
      cpus: 1,
      memoryLimitBytes: 512,
      usage: undefined,
    },
    {
      name: 'c1',
      type: 'container',
      engine: 'runc',
      memoryLimitBytes: 1024,
      usage: apiUsageOf({ ...counters, pids: 3, oomKills: 2, diskReadBytes: 7, nicRxBytes: 9 }),
    },
    {
      name: 's1',
      type: 'sandbox',
      engine: 'wasi',
      memoryLimitBytes: 65536,
      usage: apiUsageOf(counters),
      without: new Set(['diskReadBytes', 'nicRxBytes']),
    },
  ];
  const text = renderMetrics(rows, { strata_instances: 3 });
  const sample = (metric: string, instance: string) =>
    new RegExp(`^${metric}\\{instance="${instance}",type="\\w+",engine="\\w+"\\} (\\S+)$`, 'm').exec(text)?.[1];
  assert.equal(sample('strata_instance_up', 'vm1'), '0');
  assert.equal(sample('strata_instance_up', 'c1'), '1');
  assert.equal(sample('strata_instance_cpu_seconds_total', 'c1'), '1.5');
  assert.equal(sample('strata_instance_cpu_seconds_total', 'vm1'), undefined, 'a stopped VM has no usage samples');
  assert.equal(sample('strata_instance_memory_rss_bytes', 's1'), '4096');
  assert.equal(sample('strata_instance_memory_limit_bytes', 'vm1'), '512');
  assert.equal(sample('strata_instance_vcpus', 'vm1'), '1');
  assert.equal(sample('strata_instance_vcpus', 'c1'), undefined);
  assert.equal(sample('strata_instance_pids', 'c1'), '3');
  assert.equal(sample('strata_instance_oom_kills_total', 'c1'), '2');
  assert.equal(sample('strata_instance_disk_read_bytes_total', 'c1'), '7');
  assert.equal(sample('strata_instance_disk_read_bytes_total', 's1'), undefined, 'a sandbox has no disk');
  assert.equal(sample('strata_instance_nic_rx_bytes_total', 's1'), undefined, 'a sandbox has no NIC');
  assert.equal(sample('strata_instance_cpu_throttled_seconds_total', 'c1'), undefined, 'null is no sample');
  // One HELP and TYPE per family, every family once.
  const helps = text.match(/^# HELP (\S+)/gm) ?? [];
  assert.equal(new Set(helps).size, helps.length);
  assert.match(text, /^strata_instances 3$/m);
});
