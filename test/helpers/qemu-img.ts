// Running Debian's qemu-img / qemu-io from tests, with the figures `qemu-img check --output=json` reports.
import { spawnSync } from 'node:child_process';

/** Runs qemu-img (or another tool) and returns stdout; throws with stderr on a non-zero exit unless allowed. */
export function run(cmd: string, args: string[], okCodes: number[] = [0]): { stdout: string; status: number } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  const status = r.status ?? -1;
  if (!okCodes.includes(status)) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${status}: ${r.stderr.trim()} ${r.stdout.trim()}`.slice(0, 2000));
  }
  return { stdout: r.stdout, status };
}

/** What `qemu-img check` found. */
export interface QemuCheck {
  corruptions: number;
  leaks: number;
  checkErrors: number;
  status: number;
  raw: string;
}

/** `qemu-img check --output=json` on an image (exit codes 2 and 3 mean corruptions and leaks). */
export function qemuCheck(path: string): QemuCheck {
  const r = run('qemu-img', ['check', '--output=json', path], [0, 2, 3]);
  const j = JSON.parse(r.stdout) as Record<string, number>;
  return {
    corruptions: j.corruptions ?? 0,
    leaks: j.leaks ?? 0,
    checkErrors: j['check-errors'] ?? 0,
    status: r.status,
    raw: r.stdout,
  };
}

/** True when qemu-img is installed. */
export function haveQemuImg(): boolean {
  return spawnSync('qemu-img', ['--version']).status === 0;
}
