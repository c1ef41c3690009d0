import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { VmmExit } from '../../hypervisor/vmm-protocol.js';
import type { Engine, EngineVmSpec, VmHandle } from './engine.js';

/** What the suite needs: an engine, and the boot files of a Debian image. */
export interface EngineSuiteSetup {
  engine: () => Engine;
  image: () => Promise<{ kernel: string; initrd: string; firmware: string; cmdline: string }>;
  /** Longest time from start to a shell prompt. */
  bootTimeoutMs: number;
  skip?: string | false;
}

/** Collects console output of a handle and waits for patterns in it. */
class Output {
  text = '';
  add = (b: Uint8Array) => {
    this.text += Buffer.from(b).toString('latin1');
  };
  async waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.text.slice(from))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; tail: ${this.text.slice(-400)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function gone(h: VmHandle): Promise<VmmExit> {
  return new Promise((resolve) => h.onGone(resolve));
}

/**
 * The engine conformance suite: every engine boots the same image to a shell, serves its console with history to
 * several viewers, pauses and resumes (no output while paused), reports stats, takes new rate limits, stops cleanly,
 * survives a detach and re-attach (daemon restart), and reports a killed VMM as an error naming the pid.
 */
export function engineSuite(name: string, setup: EngineSuiteSetup): void {
  const opts = { timeout: 10 * 60_000, skip: setup.skip ?? false };
  test(
    `${name} engine conformance: boot, console, pause, stats, limits, detach/attach, stop, crash`,
    opts,
    async () => {
      const img = await setup.image();
      const engine = setup.engine();
      assert.equal(await engine.unavailableReason(), undefined);
      const home = mkdtempSync(join(tmpdir(), 'eng-'));
      const spec = (vm: string): EngineVmSpec => {
        const runDir = join(home, vm);
        mkdirSync(runDir, { recursive: true, mode: 0o700 });
        const diskPath = join(home, `${vm}.raw`);
        writeFileSync(diskPath, '');
        truncateSync(diskPath, 64 * 1024 * 1024);
        return {
          diskPath,
          name: vm,
          runDir,
          memoryBytes: 256 * 1024 * 1024,
          cpus: 1,
          kernelPath: img.kernel,
          initrdPath: img.initrd,
          firmwarePath: img.firmware,
          cmdline: img.cmdline,
          arch: 'riscv64',
          limits: {},
        };
      };
      const handles: VmHandle[] = [];
      try {
        let h = await engine.create(spec('e1'));
        handles.push(h);
        assert.equal(await h.state(), 'configured', 'a new VM waits for start (pre-boot)');
        await h.start();
        assert.equal(await h.state(), 'running');
        const out = new Output();
        const sub = await h.subscribeConsole(out.add);
        await out.waitFor(/:~# /, setup.bootTimeoutMs);
        await h.sendConsole(new TextEncoder().encode('echo e1-$((6*7))\n'));
        await out.waitFor(/e1-42/, 60_000);

        const late = new Output();
        const lateSub = await h.subscribeConsole(late.add);
        late.add(lateSub.history);
        assert.match(late.text, /e1-42/, 'a late viewer gets the history');

        await h.pause();
        assert.equal(await h.state(), 'paused');
        const mark = out.text.length;
        await h.sendConsole(new TextEncoder().encode('echo p-$((1+1))\n'));
        await new Promise((r) => setTimeout(r, 1500));
        assert.doesNotMatch(out.text.slice(mark), /p-2/, 'nothing runs while paused');
        await h.resume();
        await out.waitFor(/p-2/, 30_000, mark);
        await late.waitFor(/p-2/, 5000);

        await h.sendConsole(
          new TextEncoder().encode('dd if=/dev/vda of=/dev/null bs=4096 count=256 && echo dd-$((5*5))\n'),
        );
        await out.waitFor(/dd-25/, 60_000, mark);
        const stats = await h.stats();
        assert.equal(stats.state, 'running');
        assert.ok(stats.diskReadBytes >= 1024 * 1024, `disk reads counted: ${stats.diskReadBytes}`);
        assert.equal(stats.pid, h.pid);
        assert.equal(stats.guestMemoryBytes, 256 * 1024 * 1024);
        await h.setLimits({ diskIops: 50, diskBytesPerSec: 1024 * 1024 });

        h.detach();
        sub.close();
        lateSub.close();
        const again = await engine.attach(join(home, 'e1'));
        assert.ok(!('gone' in again), 'the VM outlives its client and is found again');
        h = again;
        handles.push(h);
        const after = new Output();
        const s2 = await h.subscribeConsole(after.add);
        after.add(s2.history);
        assert.match(after.text, /e1-42/);
        await h.sendConsole(new TextEncoder().encode('echo back-$((3*3))\n'));
        await after.waitFor(/back-9/, 60_000);
        const end = gone(h);
        await h.stop(false);
        assert.equal((await end).kind, 'stopped');
        await s2.ended;

        const k = await engine.create(spec('e2'));
        handles.push(k);
        await k.start();
        const crash = gone(k);
        process.kill(k.pid, 'SIGKILL');
        const exit = await crash;
        assert.equal(exit.kind, 'error');
        assert.match(exit.reason, new RegExp(`pid ${k.pid}.*SIGKILL`));
        const lost = await engine.attach(join(home, 'e2'));
        assert.ok('gone' in lost);
      } finally {
        for (const h of handles) await h.stop(true).catch(() => undefined);
        rmSync(home, { recursive: true, force: true });
      }
    },
  );
}
