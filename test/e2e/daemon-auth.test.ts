import assert from 'node:assert/strict';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { DaemonClient } from '../../src/cli/client.js';
import { startTestDaemon, tempHome, writeFakeImage } from '../helpers/daemon-harness.js';

let home: string;
let daemon: Awaited<ReturnType<typeof startTestDaemon>>;
let routes: { method: string; path: string; websocket: boolean }[];

before(async () => {
  home = tempHome();
  writeFakeImage(home);
  daemon = await startTestDaemon(home);
  const doc = (await new DaemonClient({ baseUrl: daemon.url, token: daemon.token }).call('GET', '/openapi.json')) as {
    paths: Record<string, Record<string, { 'x-websocket'?: boolean }>>;
  };
  routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path: path.replace(/\{[^}]+\}/g, 'x1'),
      websocket: op['x-websocket'] === true,
    })),
  );
});

after(async () => {
  await daemon.close();
  rmSync(home, { recursive: true, force: true });
});

test('the token file and the Unix socket are private to the owner (mode 0600)', () => {
  assert.equal(statSync(join(home, 'daemon', 'token')).mode & 0o777, 0o600);
  assert.equal(statSync(join(home, 'daemon', 'strata.sock')).mode & 0o777, 0o600);
  assert.equal(statSync(join(home, 'daemon')).mode & 0o777, 0o700);
});

test('every route refuses a request over TCP without the token, or with a wrong one', async () => {
  assert.ok(routes.length >= 17, `walked ${routes.length} routes`);
  for (const token of [undefined, 'wrong', `${daemon.token}x`]) {
    const client = new DaemonClient({ baseUrl: daemon.url, token });
    for (const r of routes) {
      const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : {};
      const res = await client.raw(r.method, r.path, body);
      assert.equal(res.status, 401, `${r.method} ${r.path} with token ${token}`);
      assert.deepEqual((res.body as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    }
    const unknown = await client.raw('GET', '/no/such/route');
    assert.equal(unknown.status, 401, 'unknown routes do not reveal themselves either');
  }
});

test('every WebSocket route refuses an upgrade over TCP without the token', async () => {
  const wsRoutes = routes.filter((r) => r.websocket);
  assert.ok(wsRoutes.length >= 2, 'console and events');
  for (const r of wsRoutes) {
    for (const headers of [{}, { authorization: 'Bearer wrong' }]) {
      const ws = new WebSocket(`${daemon.url.replace('http', 'ws')}${r.path}`, { headers });
      const status = await new Promise<number>((resolve) => {
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('open', () => resolve(101));
        ws.once('error', () => resolve(-1));
      });
      ws.terminate();
      assert.equal(status, 401, `${r.path} upgraded without a token`);
    }
  }
});

test('the Unix socket needs no token (its file permissions are the guard)', async () => {
  const local = new DaemonClient({ baseUrl: 'http://localhost', socketPath: daemon.socket });
  const info = (await local.call('GET', '/1.0')) as { auth: string };
  assert.equal(info.auth, 'trusted');
  const ws = local.websocket('/1.0/events?since=0');
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_q, res) => reject(new Error(`status ${res.statusCode}`)));
  });
  ws.close();
  const tcp = new DaemonClient({ baseUrl: daemon.url, token: daemon.token });
  assert.equal(((await tcp.call('GET', '/1.0')) as { auth: string }).auth, 'token');
});
