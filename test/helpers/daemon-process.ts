import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { ensureDebianImage } from './debian-image.js';
import { runStrata, STRATA_BIN } from './strata-cli.js';

/** A `strata daemon` child process on a free port. */
export interface DaemonProcess {
  child: ChildProcess;
  url: string;
  token: string;
  pid: number;
  /** Environment for CLI calls that reach this daemon over the Unix socket. */
  env: NodeJS.ProcessEnv;
  /** Ends the daemon (SIGTERM) and waits for it; VMs keep running. */
  stop(): Promise<void>;
}

/** Runs `strata args` against daemon `d`: its exit code (-1: killed) and its output, stdout then stderr. */
export async function strataOn(
  d: DaemonProcess,
  args: string[],
  timeoutMs = 180_000,
): Promise<{ code: number; out: string }> {
  const r = await runStrata(args, { env: d.env, timeoutMs });
  return { code: r.code ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** Runs `strata args` against daemon `d`, asserts it succeeded and returns its output. */
export async function strataOkOn(d: DaemonProcess, args: string[]): Promise<string> {
  const r = await strataOn(d, args);
  assert.equal(r.code, 0, `strata ${args.join(' ')} failed: ${r.out}`);
  return r.out;
}

/** One JSON request to daemon `d`'s API with its token: the status and the parsed answer. */
export async function apiOn(d: DaemonProcess, method: string, path: string, body?: unknown) {
  const res = await fetch(`${d.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${d.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Links the shared Debian image into `home`'s image store (pulling it first if needed). */
export async function linkDebianImage(home: string): Promise<void> {
  const shared = await ensureDebianImage();
  mkdirSync(join(home, 'images'), { recursive: true });
  const target = join(home, 'images', 'debian');
  if (!existsSync(target)) symlinkSync(join(shared, 'images', 'debian'), target);
}

/**
 * Starts `strata daemon --port 0` with STRATA_HOME=home and waits until it listens; `env` is added to (or
 * overrides) the daemon's environment, e.g. a PATH without some host tool.
 */
export async function startDaemonProcess(home: string, env: NodeJS.ProcessEnv = {}): Promise<DaemonProcess> {
  const infoPath = join(home, 'daemon', 'daemon.json');
  const child = spawn(process.execPath, [STRATA_BIN, 'daemon', '--port', '0', '--log-file', join(home, 'daemon.log')], {
    env: { ...process.env, ...env, STRATA_HOME: home },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (existsSync(infoPath)) {
      const info = JSON.parse(readFileSync(infoPath, 'utf8')) as { pid: number; url: string };
      if (info.pid === child.pid) {
        return {
          child,
          url: info.url,
          pid: info.pid,
          token: readFileSync(join(home, 'daemon', 'token'), 'utf8').trim(),
          env: { STRATA_HOME: home },
          async stop() {
            child.kill('SIGTERM');
            await exited;
          },
        };
      }
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`strata daemon did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Kills every VMM left under `home` (test cleanup). */
export function killVmms(home: string): void {
  const run = join(home, 'run');
  if (!existsSync(run)) return;
  for (const name of readdirSync(run)) {
    try {
      const pid = Number(readFileSync(join(run, name, 'vmm.pid'), 'utf8'));
      if (pid > 0) process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone, or never started.
    }
  }
}

/** A console over the daemon's WebSocket, with expect-style waiting. */
export class ConsoleViewer {
  text = '';
  private readonly ws: WebSocket;
  readonly opened: Promise<void>;

  constructor(daemon: { url: string; token: string }, name: string) {
    this.ws = new WebSocket(`${daemon.url.replace('http', 'ws')}/1.0/instances/${name}/console`, {
      headers: { authorization: `Bearer ${daemon.token}` },
    });
    this.ws.on('message', (d: Buffer) => {
      this.text += d.toString('latin1');
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_q, res) => reject(new Error(`console of ${name}: ${res.statusCode}`)));
      this.ws.once('error', reject);
    });
  }

  /** Waits until `re` matches the output after offset `from`. */
  async waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.text.slice(from));
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; tail: ${this.text.slice(-500)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Types a line. */
  send(line: string): void {
    this.ws.send(`${line}\n`);
  }

  /** Types a line and waits for `expect` in the output that follows. */
  async command(line: string, expect: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const from = this.text.length;
    this.ws.send(`${line}\n`);
    return this.waitFor(expect, timeoutMs, from);
  }

  close(): void {
    this.ws.close();
  }
}
