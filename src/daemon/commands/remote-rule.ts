import { StrataError } from '../../base/errors.js';
import { DaemonClient } from '../../cli/client.js';
import { isRemoteDaemon, resolveTarget } from '../../cli/connection.js';

/** Help text shared by `strata network` and `strata storage`: where they act. */
export const REMOTE_RULE_HELP = [
  'Where it acts: with STRATA_URL set (and STRATA_TOKEN, or the token file of $STRATA_HOME), on the daemon at',
  'that URL, through its API; without it, on the local $STRATA_HOME directly (the same store a local daemon',
  'uses, so it works with or without one). A command that cannot act through the API is refused with one',
  'line when STRATA_URL is set, before anything is touched.',
];

/** The daemon client when STRATA_URL names the daemon to act on; undefined for the local home. */
export function remoteClient(env: NodeJS.ProcessEnv): DaemonClient | undefined {
  return isRemoteDaemon(env) ? new DaemonClient(resolveTarget(env)) : undefined;
}

/**
 * Refuses a command that only makes sense on the daemon's own host (it reads or writes a file of this machine,
 * or runs a server here) when STRATA_URL names a daemon: one line naming the command and why, before anything is
 * touched.
 */
export function refuseRemote(env: NodeJS.ProcessEnv, command: string, why: string): void {
  if (!isRemoteDaemon(env)) return;
  throw new StrataError(
    'UNAVAILABLE',
    `${command} cannot run against the daemon at ${env.STRATA_URL} (STRATA_URL is set): ${why}; run it on the daemon's host, or unset STRATA_URL`,
  );
}
