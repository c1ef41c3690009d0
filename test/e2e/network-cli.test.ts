import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runStrata, STRATA_BIN } from '../helpers/strata-cli.js';

// `strata network ...` and `strata run --nic` as a user meets them: tables and JSON, and bad input ending with
// one line naming the value and nothing half-created: exit 2 for a malformed value on the command line (name,
// subnet, VLAN id, MAC), exit 1 for an unknown network, an overlapping subnet or a conflict. No guest boots here.

function freshHome(t: { after: (fn: () => void) => void }): string {
  const home = mkdtempSync(join(tmpdir(), 'strata-netcli-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

async function strata(home: string, args: string[]) {
  return runStrata(args, { env: { STRATA_HOME: home }, timeoutMs: 30_000 });
}

async function expectOneLineError(home: string, args: string[], mention: RegExp, code = 1) {
  const r = await strata(home, args);
  assert.equal(r.code, code, `exit code for ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.match(r.stderr, mention);
}

test('network create, list, show and delete, as tables and JSON', async (t) => {
  const home = freshHome(t);
  const c = await strata(home, [
    'network',
    'create',
    'lab',
    '--subnet',
    '10.0.1.0/24',
    '--dhcp',
    '--nat',
    '--vlan',
    '12',
  ]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout, 'created network lab (10.0.1.0/24, gateway 10.0.1.1/24)\n');
  assert.equal((await strata(home, ['network', 'create', 'plain'])).code, 0);
  const list = await strata(home, ['network', 'list']);
  assert.match(list.stdout, /^NAME\s+SUBNET\s+GATEWAY\s+VLAN\s+DHCP\s+NAT\s+ROUTER\s+STATE\n/);
  assert.match(list.stdout, /\nlab\s+10\.0\.1\.0\/24\s+10\.0\.1\.1\s+12\s+yes\s+yes\s+-\s+stopped\n/);
  assert.match(list.stdout, /\nplain\s+-\s+-\s+1\s+no\s+no\s+-\s+stopped\n/);
  const json = JSON.parse((await strata(home, ['network', 'list', '--format', 'json'])).stdout) as {
    name: string;
    running: boolean;
  }[];
  assert.deepEqual(
    json.map((n) => [n.name, n.running]),
    [
      ['lab', false],
      ['plain', false],
    ],
  );
  const show = await strata(home, ['network', 'show', 'lab']);
  assert.match(show.stdout, /gateway:\s+10\.0\.1\.1\/24/);
  assert.match(show.stdout, /state:\s+stopped/);
  const del = await strata(home, ['network', 'delete', 'plain']);
  assert.equal(del.stdout, 'deleted network plain\n');
  assert.deepEqual(readdirSync(join(home, 'networks')), ['lab.json']);
  for (const sub of ['create', 'list', 'show', 'delete', 'serve', 'flows', 'capture']) {
    const h = await strata(home, ['network', sub, '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /^Usage: strata network /);
  }
});

test('bad network input: one line naming the value, exit 1, nothing created', async (t) => {
  const home = freshHome(t);
  assert.equal((await strata(home, ['network', 'create', 'lab', '--subnet', '10.0.1.0/24'])).code, 0);
  await expectOneLineError(
    home,
    ['network', 'create', 'lab2', '--subnet', '10.0.0.0/16'],
    /subnet 10\.0\.0\.0\/16 overlaps 10\.0\.1\.0\/24 of network 'lab'/,
  );
  await expectOneLineError(home, ['network', 'create', 'lab'], /network 'lab' already exists/);
  await expectOneLineError(home, ['network', 'create', '../etc'], /invalid network name '\.\.\/etc'/, 2);
  await expectOneLineError(home, ['network', 'create', 'v', '--vlan', '0'], /invalid VLAN id '0'/, 2);
  await expectOneLineError(home, ['network', 'create', 's', '--subnet', '10.0.300.0/24'], /'10\.0\.300\.0\/24'/, 2);
  await expectOneLineError(home, ['network', 'show', 'nope'], /unknown network 'nope' \(known: lab\)/);
  await expectOneLineError(home, ['network', 'delete', 'nope'], /unknown network 'nope'/);
  await expectOneLineError(home, ['network', 'flows', 'lab'], /network 'lab' is not running/);
  assert.deepEqual(readdirSync(join(home, 'networks')), ['lab.json']);

  // strata run refuses before booting anything or starting any network.
  const run = (nic: string) => ['run', '--kernel', '/nonexistent-kernel', '--nic', nic];
  await expectOneLineError(home, run('network=nope'), /unknown network 'nope' \(known: lab\)/);
  await expectOneLineError(
    home,
    run('network=lab,mac=01:00:5e:00:00:01'),
    /invalid MAC address '01:00:5e:00:00:01'/,
    2,
  );
  await expectOneLineError(home, run('network=lab,mac=02:00:00:00:00'), /invalid MAC address '02:00:00:00:00'/, 2);
  await expectOneLineError(home, run('network=lab,vlan=4095'), /invalid VLAN id '4095'/, 2);
  await expectOneLineError(home, run('net=lab'), /invalid --nic 'net=lab': unknown or bad setting 'net=lab'/, 2);
  await expectOneLineError(home, run('mac=02:00:00:00:00:01'), /network=NAME is required/, 2);
  assert.equal(existsSync(join(home, 'run')), false, 'no network was started');
});

test('a served network is running in list and show, cannot be deleted, and stops cleanly on SIGTERM', async (t) => {
  const home = freshHome(t);
  const c = await strata(home, ['network', 'create', 'lab', '--subnet', '10.0.1.0/24', '--dhcp', '--router', 'r']);
  assert.equal(c.code, 0, c.stderr);
  const serve = spawn(process.execPath, [STRATA_BIN, 'network', 'serve', 'lab'], {
    env: { ...process.env, STRATA_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => serve.kill('SIGKILL'));
  let out = '';
  serve.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  for (let i = 0; i < 200 && !out.includes('serving'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(out, /^serving lab \(openflow ptcp:127\.0\.0\.1:\d+\)/);
  const show = await strata(home, ['network', 'show', 'lab']);
  assert.match(show.stdout, /openflow:\s+ptcp:127\.0\.0\.1:\d+/);
  assert.match(show.stdout, /state:\s+running \(pid \d+\)/);
  assert.match(show.stdout, /\n\s*1\s+gw-lab\s+1\s/);
  const flows = await strata(home, ['network', 'flows', 'lab']);
  assert.match(
    flows.stdout,
    /^TABLE\s+PRIORITY\s+MATCH\s+ACTIONS\s+PACKETS\s+BYTES\s+COOKIE\s+DURATION\n\s+0\s+0\s+\*\s+output:NORMAL/,
  );
  await expectOneLineError(home, ['network', 'delete', 'lab'], /network 'lab' is running \(pid \d+\)/);
  await expectOneLineError(home, ['network', 'serve', 'lab'], /network 'lab' is already served by process \d+/);
  await expectOneLineError(
    home,
    ['network', 'create', 'lab2', '--subnet', '10.0.2.0/24', '--router', 'r'],
    /router 'r' is running \(network 'lab', pid \d+\)/,
  );
  serve.kill('SIGTERM');
  const code = await new Promise((r) => serve.on('close', r));
  assert.equal(code, 0);
  assert.deepEqual(readdirSync(join(home, 'run')), []);
  assert.equal((await strata(home, ['network', 'delete', 'lab'])).code, 0);
});
