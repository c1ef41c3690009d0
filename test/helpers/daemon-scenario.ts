import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempHome } from './daemon-harness.js';
import { ConsoleViewer, type DaemonProcess, killVmms, linkDebianImage, startDaemonProcess } from './daemon-process.js';
import { runStrata } from './strata-cli.js';

interface InstanceRow {
  name: string;
  status: string;
  statusReason: string | null;
  vmmPid: number | null;
}

/** The shell prompt of the Debian image's initramfs. */
const PROMPT = /:~# /;

async function cli(d: DaemonProcess, args: string[], timeoutMs = 180_000): Promise<string> {
  const r = await runStrata(args, { env: d.env, timeoutMs });
  assert.equal(r.code, 0, `strata ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function list(d: DaemonProcess): Promise<Map<string, InstanceRow>> {
  const rows = JSON.parse(await cli(d, ['list', '--format', 'json'])) as InstanceRow[];
  return new Map(rows.map((r) => [r.name, r]));
}

/** The CPU quota and period (µs) of the cgroup process `pid` is in, cgroup v2 or v1. */
function cpuQuotaOf(pid: number): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const v1 = lines.map((l) => l.split(':')).find(([, ctrls]) => ctrls?.split(',').includes('cpu'));
  if (v1?.[2] && v1[2] !== '/') {
    const dir = join('/sys/fs/cgroup', v1[1]!, v1[2]);
    const quota = readFileSync(join(dir, 'cpu.cfs_quota_us'), 'utf8').trim();
    return `${quota} ${readFileSync(join(dir, 'cpu.cfs_period_us'), 'utf8').trim()}`;
  }
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3) ?? '/';
  return readFileSync(join('/sys/fs/cgroup', v2, 'cpu.max'), 'utf8').trim();
}

async function shell(d: DaemonProcess, name: string, bootTimeoutMs: number): Promise<ConsoleViewer> {
  const v = new ConsoleViewer(d, name);
  await v.opened;
  await v.waitFor(PROMPT, bootTimeoutMs);
  return v;
}

/**
 * The end-to-end scenario of the issue on one engine, with the real daemon and CLI: launch two VMs, see both shells
 * over the console WebSocket, pause/resume/stop/start, restart the daemon while they run and find them running and
 * re-attached, SIGKILL one VMM and see only that instance failed, start it again, delete both.
 */
export async function runDaemonScenario(t: TestContext, engine: 'builtin' | 'qemu'): Promise<void> {
  const home = tempHome('se-');
  await linkDebianImage(home);
  let d = await startDaemonProcess(home);
  t.after(async () => {
    await d.stop().catch(() => undefined);
    killVmms(home);
    rmSync(home, { recursive: true, force: true });
  });
  const boot = engine === 'builtin' ? 240_000 : 120_000;

  await cli(d, ['launch', 'debian', 'vm1', '--engine', engine, '--memory', '256M', '-q']);
  await cli(d, ['launch', 'debian', 'vm2', '--engine', engine, '--memory', '256M', '--cpu-quota', '60', '-q']);
  let rows = await list(d);
  assert.equal(rows.get('vm1')?.status, 'running');
  assert.equal(rows.get('vm2')?.status, 'running');

  const c1 = await shell(d, 'vm1', boot);
  const c2 = await shell(d, 'vm2', boot);
  await c1.command('echo vm1-$((6*7))', /vm1-42/, 60_000);
  await c2.command('echo vm2-$((6*8))', /vm2-48/, 60_000);
  const info = JSON.parse(await cli(d, ['info', 'vm2', '--format', 'json'])) as {
    state: { controls: { kind: string }; usage: { cpuThrottledSeconds: number | null; cpuSeconds: number } };
  };
  assert.ok(info.state.usage.cpuSeconds > 0, 'CPU time is reported');
  if (info.state.controls.kind !== 'none') {
    // The VMM process sits in a group whose quota is 60% of one CPU (how much it was throttled depends on the
    // machine's load, so that is for benchmarks).
    const pid = (await list(d)).get('vm2')?.vmmPid;
    assert.ok(pid, 'vm2 has a VMM pid');
    assert.equal(cpuQuotaOf(pid), '60000 100000', 'the VMM runs under a 60% CPU quota');
    assert.notEqual(typeof info.state.usage.cpuThrottledSeconds, 'undefined');
  }

  await cli(d, ['pause', 'vm1', '-q']);
  assert.equal((await list(d)).get('vm1')?.status, 'paused');
  const before = c1.text.length;
  c1.send('echo while-$((1+1))-paused');
  await new Promise((r) => setTimeout(r, 1500));
  assert.doesNotMatch(c1.text.slice(before), /while/, 'a paused guest neither echoes nor runs anything');
  await cli(d, ['resume', 'vm1', '-q']);
  await c1.waitFor(/while-2-paused/, 30_000, before);
  c1.close();
  c2.close();

  const pids = new Map([...(await list(d))].map(([n, r]) => [n, r.vmmPid]));
  await d.stop();
  d = await startDaemonProcess(home);
  rows = await list(d);
  for (const name of ['vm1', 'vm2']) {
    assert.equal(rows.get(name)?.status, 'running', `${name} still running after the daemon restart`);
    assert.equal(rows.get(name)?.vmmPid, pids.get(name), `${name} re-attached to the same VMM`);
  }
  const late = new ConsoleViewer(d, 'vm2');
  await late.opened;
  await late.waitFor(/vm2-48/, 10_000);
  await late.command('echo after-restart', /after-restart\r?\n/, 60_000);
  late.close();

  const victim = rows.get('vm1')?.vmmPid;
  assert.ok(victim);
  process.kill(victim, 'SIGKILL');
  let vm1: InstanceRow | undefined;
  for (let i = 0; i < 100; i++) {
    vm1 = (await list(d)).get('vm1');
    if (vm1?.status === 'failed') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(vm1?.status, 'failed');
  assert.match(vm1?.statusReason ?? '', new RegExp(`pid ${victim}`));
  assert.equal((await list(d)).get('vm2')?.status, 'running', 'only the killed VMM fails');

  await cli(d, ['start', 'vm1', '-q']);
  const again = await shell(d, 'vm1', boot);
  await again.command('echo back-$((2+2))', /back-4/, 60_000);
  again.close();

  await cli(d, ['stop', 'vm1', '-q']);
  assert.equal((await list(d)).get('vm1')?.status, 'stopped');
  const refused = await runStrata(['delete', 'vm2'], { env: d.env });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /running.*--force/);
  await cli(d, ['delete', 'vm1', '-q']);
  await cli(d, ['delete', 'vm2', '--force', '-q']);
  assert.equal((await list(d)).size, 0);
}
