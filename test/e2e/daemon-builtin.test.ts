import { test } from 'node:test';
import { runDaemonScenario } from '../helpers/daemon-scenario.js';

test('daemon + CLI on the builtin engine: two VMs, consoles, pause/resume, daemon restart, a killed VMM, delete', {
  timeout: 20 * 60_000,
}, async (t) => {
  await runDaemonScenario(t, 'builtin');
});
