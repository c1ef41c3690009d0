import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';

/**
 * An expect-style driver for a process whose stdio is a guest's serial console (`strata run`, or
 * `qemu-system-riscv64 -nographic`): wait for a pattern in the output, type a line, collect the transcript.
 * Used by end-to-end tests and benchmarks alike.
 */
export class ConsoleSession {
  private output = '';
  private waiters: { re: RegExp; from: number; resolve: (m: RegExpExecArray) => void }[] = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private exitWaiters: ((info: { code: number | null; signal: NodeJS.Signals | null }) => void)[] = [];
  readonly child: ChildProcessWithoutNullStreams;
  /** performance.now() when the process was started. */
  readonly startedMs = performance.now();

  constructor(command: string, args: readonly string[], env?: NodeJS.ProcessEnv) {
    this.child = spawn(command, [...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const onData = (d: Buffer) => {
      this.output += d.toString('latin1');
      this.check();
    };
    this.child.stdout.on('data', onData);
    this.child.stderr.on('data', onData);
    this.child.stdin.on('error', () => {
      // The guest may power off while input is still queued; the transcript tells the story.
    });
    this.child.on('close', (code, signal) => {
      this.exitInfo = { code, signal };
      for (const w of this.exitWaiters) w(this.exitInfo);
      this.exitWaiters = [];
      this.check();
    });
  }

  /** Everything the process printed so far (stdout and stderr interleaved). */
  get transcript(): string {
    return this.output;
  }

  /** Offset to search from: patterns are matched only in output after this mark. */
  mark(): number {
    return this.output.length;
  }

  /** Waits until `re` matches output printed after `from`; rejects with the transcript tail on timeout or exit. */
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${re}; output tail:\n${this.output.slice(-2000)}`),
        );
      }, timeoutMs);
      const waiter = {
        re,
        from,
        resolve: (m: RegExpExecArray) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.waiters.push(waiter);
      this.check();
      if (this.exitInfo && this.waiters.includes(waiter)) {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `process exited (${JSON.stringify(this.exitInfo)}) before ${re}; output tail:\n${this.output.slice(-2000)}`,
          ),
        );
      }
    });
  }

  /** Types `text` followed by a newline. */
  typeLine(text: string): void {
    this.child.stdin.write(`${text}\n`);
  }

  /** Types a command and waits for `expect` in the output that follows. */
  async command(text: string, expect: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const from = this.mark();
    this.typeLine(text);
    return this.waitFor(expect, timeoutMs, from);
  }

  /** Waits for the process to exit; kills it after `timeoutMs`. */
  waitExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exitInfo) return Promise.resolve(this.exitInfo);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      this.exitWaiters.push((info) => {
        clearTimeout(timer);
        resolve(info);
      });
    });
  }

  /** Kills the process if it is still running. */
  kill(): void {
    if (!this.exitInfo) this.child.kill('SIGKILL');
  }

  private check(): void {
    for (const w of [...this.waiters]) {
      const re = new RegExp(w.re.source, w.re.flags.replace('g', ''));
      const m = re.exec(this.output.slice(w.from));
      if (m) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(m);
      }
    }
  }
}
