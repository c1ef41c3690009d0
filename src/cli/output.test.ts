import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Instance, InstanceState } from '../api/schema/index.js';
import { renderInfo } from './commands/instance-commands.js';
import { eventLine } from './commands/monitor-command.js';
import { printData } from './output.js';

function capture(format: 'table' | 'json' | 'yaml'): string {
  let s = '';
  printData({ write: (t: string) => (s += t) }, format, [{ name: 'a', n: 1 }], () => 'TABLE\n');
  return s;
}

test('--format table, json and yaml print the same data', () => {
  assert.equal(capture('table'), 'TABLE\n');
  assert.deepEqual(JSON.parse(capture('json')), [{ name: 'a', n: 1 }]);
  assert.equal(capture('yaml'), '- name: a\n  n: 1\n');
});

test('strata info puts usage next to each limit and says what enforces them', () => {
  const limits = { cpuWeight: 100, cpuQuotaPercent: 50, diskIops: 0, diskBytesPerSec: 1048576, nicBytesPerSec: 0 };
  const inst: Instance = {
    name: 'a',
    id: 'x',
    type: 'vm',
    image: 'debian',
    engine: 'builtin',
    status: 'running',
    statusReason: null,
    cpus: 1,
    memoryBytes: 256 * 1024 * 1024,
    diskSizeBytes: 1024 ** 3,
    network: null,
    limits,
    vmmPid: 12,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    lastStartedAt: null,
  };
  const st: InstanceState = {
    status: 'running',
    statusReason: null,
    pid: 12,
    cpus: 1,
    memoryBytes: inst.memoryBytes,
    diskSizeBytes: inst.diskSizeBytes,
    limits,
    nics: [],
    disks: [],
    usage: {
      cpuSeconds: 3.25,
      memoryRssBytes: 200 * 1024 * 1024,
      guestMemoryBytes: inst.memoryBytes,
      diskReadBytes: 4096,
      diskWriteBytes: 0,
      diskReadOps: 1,
      diskWriteOps: 0,
      nicRxBytes: 0,
      nicTxBytes: 0,
      consoleBytes: 10,
      cpuThrottledSeconds: 0.5,
    },
    controls: { kind: 'cgroup-v2', summary: 'cgroup-v2: CPU weight...' },
  };
  const text = renderInfo(inst, st);
  assert.match(text, /CPU quota\s+50% of a CPU\s+0\.5 s throttled/);
  assert.match(text, /memory\s+256 MiB \(hard cap\)\s+200 MiB VMM resident/);
  assert.match(text, /disk bandwidth\s+1\.0 MiB\/s\s+4\.0 KiB read/);
  assert.match(text, /resource controls: cgroup-v2/);
});

test('an event is one line with its sequence number', () => {
  const line = eventLine({
    seq: 7,
    at: '2026-01-01T00:00:00Z',
    type: 'lifecycle',
    resource: '/1.0/instances/a',
    data: { action: 'instance-failed', reason: 'killed' },
  });
  assert.match(line, /^\s+7 .*lifecycle.*\/1\.0\/instances\/a\s+instance-failed \(killed\)$/);
});
