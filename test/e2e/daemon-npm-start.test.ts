import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempHome } from '../helpers/daemon-harness.js';
import { killVmms, linkDebianImage } from '../helpers/daemon-process.js';
import { REPO_ROOT, runStrata } from '../helpers/strata-cli.js';

function npmStart(home: string) {
  return spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'start.mjs')], {
    env: { ...process.env, STRATA_HOME: home, STRATA_PORT: '0' },
    encoding: 'utf8',
    timeout: 120_000,
  });
}

test('npm start: starts the daemon, launches demo once, prints the URL, the token and what to try', {
  timeout: 300_000,
}, async (t) => {
  const home = tempHome('ns-');
  await linkDebianImage(home);
  t.after(() => {
    try {
      const info = JSON.parse(readFileSync(join(home, 'daemon', 'daemon.json'), 'utf8')) as { pid: number };
      process.kill(info.pid, 'SIGTERM');
    } catch {
      // The daemon never started: the assertion below says why.
    }
    killVmms(home);
    rmSync(home, { recursive: true, force: true });
  });
  const first = npmStart(home);
  assert.equal(first.status, 0, first.stderr + first.stdout);
  const token = readFileSync(join(home, 'daemon', 'token'), 'utf8').trim();
  assert.match(first.stdout, /started the Strata daemon/);
  assert.match(first.stdout, /API: +http:\/\/127\.0\.0\.1:\d+/);
  assert.ok(first.stdout.includes(`token:  ${token}`));
  assert.match(first.stdout, /strata console demo/);
  const second = npmStart(home);
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stdout, /already runs/);
  const list = await runStrata(['list', '--format', 'json'], { env: { STRATA_HOME: home } });
  const rows = JSON.parse(list.stdout) as { name: string; status: string }[];
  assert.deepEqual(
    rows.map((r) => [r.name, r.status]),
    [['demo', 'running']],
  );
  const del = await runStrata(['delete', 'demo', '--force', '-q'], { env: { STRATA_HOME: home } });
  assert.equal(del.code, 0, del.stderr);
});
