import assert from 'node:assert/strict';
import { ConsoleSession } from './console-session.js';
import { STRATA_BIN } from './strata-cli.js';

/** The Debian image's shell prompt. */
export const GUEST_PROMPT = /:~# /;

/** Boots the Debian image with `strata run --image debian ARGS` in `home` and waits for its shell. */
export async function bootDebianGuest(home: string, args: readonly string[]): Promise<ConsoleSession> {
  const vm = new ConsoleSession(process.execPath, [STRATA_BIN, 'run', '--image', 'debian', ...args], {
    STRATA_HOME: home,
  });
  try {
    await vm.waitFor(/strata: debian image ready/, 300_000);
    await vm.waitFor(GUEST_PROMPT, 60_000, vm.transcript.search(/strata: debian image ready/));
  } catch (err) {
    vm.kill();
    throw err;
  }
  return vm;
}

/**
 * Runs `cmd` in the guest; returns what it printed and its exit status. The markers are computed by the shell so
 * that the echoed command line (which the terminal may wrap) never matches them.
 */
export async function guestSh(
  vm: ConsoleSession,
  cmd: string,
  timeoutMs = 120_000,
): Promise<{ out: string; status: number }> {
  const m = await vm.command(
    `echo "@@S$((3+4))@@"; ${cmd}; echo "@@rc=$?@@"`,
    /@@S7@@([\s\S]*)@@rc=(\d+)@@/,
    timeoutMs,
  );
  return { out: m[1] ?? '', status: Number(m[2]) };
}

/** Runs `cmd` in the guest and fails the test unless it exits 0; returns its output. */
export async function guestMust(vm: ConsoleSession, cmd: string, timeoutMs?: number): Promise<string> {
  const r = await guestSh(vm, cmd, timeoutMs);
  assert.equal(r.status, 0, `${cmd}\n${vm.transcript.slice(-2000)}`);
  return r.out;
}
