// Runs the ISA test programs on an engine and decodes the HTIF result. Shared by
// test/e2e/isa-qemu.test.ts (the oracle) and test/e2e/isa-strata.test.ts (our emulator).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './build.js';

/** Programs that are meant to fail, with the test number they must report. Everything else must pass (0). */
export const EXPECTED_EXIT: Readonly<Record<string, number>> = { 'selftest-fail': 3 };

/** The exit status a program must end with on either engine: 0 (pass), or its known failing test number. */
export function expectedExit(name: string): number {
  return EXPECTED_EXIT[name] ?? 0;
}

/** Wall-clock limit per program run; every program finishes in well under a second. */
export const RUN_TIMEOUT_MS = 20_000;

/** How one run of an engine ended, with its captured output. */
export interface RunResult {
  /** Process exit code (null when killed). For HTIF: 0 = pass, N = failed at test N. */
  code: number | null;
  /** The signal that ended the process, or null. */
  signal: NodeJS.Signals | null;
  /** True when the run hit the wall-clock limit and was killed. */
  timedOut: boolean;
  /** Everything the process wrote to stdout. */
  stdout: string;
  /** Everything the process wrote to stderr (or the spawn error). */
  stderr: string;
}

/**
 * Runs `cmd args` from the repository root with no stdin, capturing its output; kills it with SIGKILL after
 * `timeoutMs`. Never rejects: a spawn failure resolves with code null and the error in stderr.
 */
export function run(cmd: string, args: readonly string[], timeoutMs = RUN_TIMEOUT_MS): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, timedOut, stdout, stderr: `${stderr}${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, stdout, stderr });
    });
  });
}

/**
 * The oracle: QEMU's spike machine, no firmware. Its HTIF device exits QEMU with status
 * (tohost >> 1) when the program stores an odd value to `tohost`: 0 = pass, N = failed at test N.
 */
export function runQemu(elf: string): Promise<RunResult> {
  return run('qemu-system-riscv64', [
    '-M',
    'spike',
    '-bios',
    'none',
    '-nographic',
    '-monitor',
    'none',
    '-serial',
    'none',
    '-kernel',
    elf,
  ]);
}

/** Our engine, bare-metal HTIF mode: exit code 0 on pass, the failing test number otherwise. */
export function runStrata(elf: string): Promise<RunResult> {
  return run(process.execPath, [
    join(REPO_ROOT, 'bin', 'strata.js'),
    'run',
    '--bios',
    'none',
    '--kernel',
    elf,
    '--htif',
  ]);
}

/** A one-line description of a run, for assertion messages. */
export function describeRun(engine: string, name: string, r: RunResult): string {
  const what = r.timedOut
    ? `timed out after ${RUN_TIMEOUT_MS} ms (no HTIF write)`
    : r.code === null
      ? `killed by ${r.signal}`
      : r.code === 0
        ? 'passed (exit 0)'
        : r.code === 255
          ? 'failed outside any test case (exit 255)'
          : `FAILED at test ${r.code}`;
  const tail = `${r.stderr}${r.stdout}`.trim().split('\n').slice(-5).join('\n');
  return `${engine}: ${name}: ${what}${tail ? `\n${tail}` : ''}`;
}
