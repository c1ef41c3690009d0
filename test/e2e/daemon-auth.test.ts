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
  for (const p of [
    '/1.0/networks',
    '/1.0/networks/x1',
    '/1.0/storage-pools',
    '/1.0/storage-pools/x1',
    '/1.0/storage-pools/x1/volumes/x1',
    '/1.0/storage-pools/x1/volumes/x1/clone',
    '/1.0/networks/x1/state',
    '/1.0/instances/x1/exec',
    '/1.0/instances/x1/files',
  ]) {
    assert.ok(
      routes.some((r) => r.path === p),
      `${p} is in the route table`,
    );
  }
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

/** Sends one HTTP request to the daemon with the given headers; returns status, headers and body text. */
async function send(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(`${daemon.url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Signs in with the token and returns the Cookie header value of the session. */
async function signIn(): Promise<string> {
  const res = await send('POST', '/1.0/session', {}, { token: daemon.token });
  assert.equal(res.status, 200, res.text);
  const setCookie = res.headers.get('set-cookie') ?? '';
  assert.match(setCookie, /^strata_session=[A-Za-z0-9_-]{43};/);
  return setCookie.split(';')[0]!;
}

test('the web sign-in refuses a wrong or missing token with a plain message and sets no cookie', async () => {
  for (const [token, message] of [
    ['wrong', /that token is not right/],
    ['', /enter the token/],
    [`${daemon.token}x`, /that token is not right/],
  ] as const) {
    const res = await send('POST', '/1.0/session', {}, { token });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('set-cookie'), null);
    const err = (JSON.parse(res.text) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'UNAUTHORIZED');
    assert.match(err.message, message);
  }
});

test('a signed-in session cookie is HttpOnly, SameSite=Strict, Path=/ and never carries the token', async () => {
  const res = await send('POST', '/1.0/session', {}, { token: daemon.token });
  const setCookie = res.headers.get('set-cookie') ?? '';
  assert.match(setCookie, /; HttpOnly/);
  assert.match(setCookie, /; SameSite=Strict/);
  assert.match(setCookie, /; Path=\//);
  assert.ok(!setCookie.includes(daemon.token), 'the cookie holds a session id, not the token');
});

test('the session cookie opens every route like the token, over HTTP and WebSocket', async () => {
  const cookie = await signIn();
  for (const r of routes) {
    if (r.path === '/1.0/session') continue; // DELETE signs out: tested below
    const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : {};
    const res = await send(r.method, r.path, { cookie }, body);
    assert.notEqual(res.status, 401, `${r.method} ${r.path} refused a signed-in session: ${res.text}`);
  }
  for (const r of routes.filter((x) => x.websocket && x.path.includes('events'))) {
    const ws = new WebSocket(`${daemon.url.replace('http', 'ws')}${r.path}`, {
      headers: { cookie, origin: daemon.url },
    });
    const status = await new Promise<number>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => resolve(101));
      ws.once('error', () => resolve(-1));
    });
    ws.terminate();
    assert.equal(status, 101, `${r.path} refused a signed-in session`);
  }
});

test('a session cookie sent from another origin, a made-up one, or one signed out is refused', async () => {
  const cookie = await signIn();
  assert.equal((await send('GET', '/1.0/instances', { cookie, origin: 'http://evil.example' })).status, 401);
  const ws = new WebSocket(`${daemon.url.replace('http', 'ws')}/1.0/events`, {
    headers: { cookie, origin: 'http://evil.example' },
  });
  const status = await new Promise<number>((resolve) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => resolve(101));
    ws.once('error', () => resolve(-1));
  });
  ws.terminate();
  assert.equal(status, 401, 'a cross-site WebSocket cannot ride on the session');
  assert.equal((await send('GET', '/1.0/instances', { cookie: 'strata_session=made-up' })).status, 401);
  assert.equal((await send('GET', '/1.0/instances', { cookie, origin: daemon.url })).status, 200);
  const out = await send('DELETE', '/1.0/session', { cookie, origin: daemon.url });
  assert.equal(out.status, 200);
  assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
  assert.equal((await send('GET', '/1.0/instances', { cookie })).status, 401, 'signed out');
});

test('the web console is served at / without a token; the API behind it is not', async (t) => {
  const page = await send('GET', '/');
  if (page.status !== 200) {
    t.skip('the web console is not built (dist/web)');
    return;
  }
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  assert.match(page.text, /<div id="app">/);
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(page.text)?.[1];
  assert.ok(asset, 'index.html names its script');
  const js = await send('GET', asset);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /javascript/);
  assert.equal((await send('GET', '/1.0/instances')).status, 401);
  assert.equal((await send('GET', '/assets/no-such-file.js')).status, 401, 'unknown paths do not reveal themselves');
});
