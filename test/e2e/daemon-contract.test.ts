import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import { WebSocket } from 'ws';
import type { Operation } from '../../src/api/schema/index.js';
import { type ApiResponse, DaemonClient } from '../../src/cli/client.js';
import { PoolRegistry } from '../../src/services/storage/pools/pool-registry.js';
import { startTestDaemon, tempHome, writeFakeImage } from '../helpers/daemon-harness.js';
import { helloModule } from '../helpers/wasi-modules.js';

interface MediaType {
  schema: unknown;
}
interface DocOperation {
  requestBody?: { content: Record<string, MediaType> };
  responses: Record<string, { content?: Record<string, MediaType> }>;
  'x-websocket'?: boolean;
}
type Doc = { paths: Record<string, Record<string, DocOperation>>; components: unknown };

let home: string;
let daemon: Awaited<ReturnType<typeof startTestDaemon>>;
let tcp: DaemonClient;
let doc: Doc;
const ajv = new Ajv({ strict: false, allErrors: true });
const validators = new Map<string, ValidateFunction>();
/** `METHOD /path/{template} STATUS` of every response checked against the document. */
const covered = new Set<string>();

function validatorFor(key: string, schema: unknown): ValidateFunction {
  let v = validators.get(key);
  if (!v) {
    v = ajv.compile({ ...(schema as object), components: doc.components });
    validators.set(key, v);
  }
  return v;
}

/** Calls the API over TCP with the token and checks request and response against /openapi.json. */
async function api<T = unknown>(
  method: string,
  template: string,
  path: string,
  body?: unknown,
): Promise<ApiResponse<T>> {
  const op = doc.paths[template]?.[method.toLowerCase()];
  assert.ok(op, `${method} ${template} is in the OpenAPI document`);
  if (body !== undefined && op.requestBody && !(body instanceof Uint8Array)) {
    const schema = op.requestBody.content['application/json']?.schema;
    const v = validatorFor(`req ${method} ${template}`, schema);
    void v(body);
  }
  const res = await tcp.raw<T>(method, path, body).catch((err: Error) => {
    throw new Error(`${method} ${path}: ${err.message}`);
  });
  const spec = op.responses[String(res.status)];
  assert.ok(
    spec,
    `${method} ${path} answered ${res.status}, which the document does not list: ${JSON.stringify(res.body)}`,
  );
  const json = spec.content?.['application/json'];
  if (json) {
    const v = validatorFor(`res ${method} ${template} ${res.status}`, json.schema);
    assert.ok(v(res.body), `${method} ${path} ${res.status} breaks the document: ${ajv.errorsText(v.errors)}`);
  }
  covered.add(`${method} ${template} ${res.status}`);
  return res;
}

async function waitOp(op: Operation): Promise<Operation> {
  const r = await api<Operation>('GET', '/1.0/operations/{id}/wait', `/1.0/operations/${op.id}/wait?timeout=10`);
  assert.equal(r.status, 200);
  return r.body;
}

/**
 * Uploads `bytes` as a disk image (the streamed media type) and checks the answer against /openapi.json, like `api`.
 */
async function apiUpload<T = unknown>(template: string, path: string, bytes: Buffer): Promise<ApiResponse<T>> {
  const op = doc.paths[template]?.post;
  assert.ok(op, `POST ${template} is in the OpenAPI document`);
  assert.ok(op.requestBody?.content['application/vnd.strata.disk-image'], 'the body is a streamed disk image');
  const res = await fetch(`${daemon.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${daemon.token}`, 'content-type': 'application/vnd.strata.disk-image' },
    body: new Uint8Array(bytes),
  });
  const body = (await res.json()) as T;
  const spec = op.responses[String(res.status)];
  assert.ok(spec, `POST ${path} answered ${res.status}, which the document does not list: ${JSON.stringify(body)}`);
  const json = spec.content?.['application/json'];
  if (json) {
    const v = validatorFor(`res POST ${template} ${res.status}`, json.schema);
    assert.ok(v(body), `POST ${path} ${res.status} breaks the document: ${ajv.errorsText(v.errors)}`);
  }
  covered.add(`POST ${template} ${res.status}`);
  return { status: res.status, headers: {}, body };
}

before(async () => {
  home = tempHome();
  writeFakeImage(home, 'fake');
  writeFakeImage(home, 'spare');
  daemon = await startTestDaemon(home);
  tcp = new DaemonClient({ baseUrl: daemon.url, token: daemon.token });
  doc = (await tcp.call('GET', '/openapi.json')) as Doc;
});

after(async () => {
  await daemon.close();
  rmSync(home, { recursive: true, force: true });
});

test('the OpenAPI document is 3.1 and names every route with its schemas', () => {
  const d = doc as unknown as { openapi: string; components: { schemas: Record<string, unknown> } };
  assert.equal(d.openapi, '3.1.0');
  for (const name of ['Instance', 'Operation', 'Error', 'CreateInstance', 'Event', 'Image']) {
    assert.ok(d.components.schemas[name], `component ${name}`);
  }
  assert.ok(Object.keys(doc.paths).length >= 13);
});

test('every route answers as the document says (requests and responses validated)', async () => {
  await api('GET', '/1.0', '/1.0');
  await api('GET', '/openapi.json', '/openapi.json');
  assert.equal((await api('GET', '/1.0/images', '/1.0/images')).status, 200);
  assert.equal((await api('GET', '/1.0/images/{name}', '/1.0/images/fake')).status, 200);
  assert.equal((await api('GET', '/1.0/images/{name}', '/1.0/images/nope')).status, 404);
  assert.equal((await api('POST', '/1.0/images', '/1.0/images', { source: 'nonesuch' })).status, 400);
  // A pull is an operation: against a mirror nobody serves it fails as an operation, naming the cause.
  const pull = await api<Operation>('POST', '/1.0/images', '/1.0/images', {
    source: 'debian',
    mirror: 'http://127.0.0.1:9/debian',
  });
  assert.equal(pull.status, 202);
  const pulled = await waitOp(pull.body);
  assert.equal(pulled.status, 'failure');
  assert.ok(pulled.errorMessage, 'the failed pull says why');

  const created = await api<Operation>('POST', '/1.0/instances', '/1.0/instances', {
    name: 'c1',
    image: 'fake',
    start: true,
  });
  assert.equal(created.status, 202);
  assert.equal(created.headers.location, `/1.0/operations/${created.body.id}`);
  assert.equal((await waitOp(created.body)).status, 'success');
  assert.equal((await api('GET', '/1.0/operations/{id}', `/1.0/operations/${created.body.id}`)).status, 200);
  assert.equal((await api('GET', '/1.0/operations', '/1.0/operations')).status, 200);
  assert.equal((await api('DELETE', '/1.0/operations/{id}', `/1.0/operations/${created.body.id}`)).status, 409);
  assert.equal((await api('GET', '/1.0/operations/{id}', '/1.0/operations/nope')).status, 404);

  assert.equal((await api('GET', '/1.0/instances', '/1.0/instances')).status, 200);
  const inst = await api<{ status: string }>('GET', '/1.0/instances/{name}', '/1.0/instances/c1');
  assert.equal(inst.body.status, 'running');
  const st = await api<{ usage: unknown }>('GET', '/1.0/instances/{name}/state', '/1.0/instances/c1/state');
  assert.ok(st.body.usage);
  const patched = await api('PATCH', '/1.0/instances/{name}', '/1.0/instances/c1', {
    limits: { cpuWeight: 200, diskIops: 100 },
  });
  assert.equal(patched.status, 200);
  assert.equal(daemon.engine.vm('c1')?.limits.diskIops, 100);
  const con = await api('GET', '/1.0/instances/{name}/console', '/1.0/instances/c1/console');
  assert.equal(con.status, 200);
  assert.match(String(con.body), /fake boot of c1/);
  // exec is for containers: a VM refuses it (409), a bad request is 400, a missing instance 404.
  assert.equal(
    (await api('POST', '/1.0/instances/{name}/exec', '/1.0/instances/c1/exec', { command: ['true'] })).status,
    409,
  );
  assert.equal(
    (await api('POST', '/1.0/instances/{name}/exec', '/1.0/instances/c1/exec', { command: [] })).status,
    400,
  );
  assert.equal(
    (await api('POST', '/1.0/instances/{name}/exec', '/1.0/instances/nope/exec', { command: ['true'] })).status,
    404,
  );

  // Files are for containers and sandboxes: a VM answers 400 for both directions.
  const vmPush = await api<ErrorReply>(
    'PUT',
    '/1.0/instances/{name}/files',
    '/1.0/instances/c1/files?path=etc/motd',
    new Uint8Array([1]),
  );
  assert.equal(vmPush.status, 400);
  assert.match(vmPush.body.error.message, /not supported for a vm/);
  assert.equal((await api('GET', '/1.0/instances/{name}/files', '/1.0/instances/c1/files?path=etc/motd')).status, 400);
  await exerciseSandboxFiles();

  for (const action of ['pause', 'resume', 'stop', 'start', 'restart']) {
    const r = await api<Operation>('PUT', '/1.0/instances/{name}/state', '/1.0/instances/c1/state', { action });
    assert.equal(r.status, 202, action);
    assert.equal((await waitOp(r.body)).status, 'success', action);
  }
  assert.equal(
    (await api('PUT', '/1.0/instances/{name}/state', '/1.0/instances/c1/state', { action: 'resume' })).status,
    409,
  );
  assert.equal((await api('DELETE', '/1.0/instances/{name}', '/1.0/instances/c1')).status, 409);
  const del = await api<Operation>('DELETE', '/1.0/instances/{name}', '/1.0/instances/c1?force=true');
  assert.equal(del.status, 202);
  assert.equal((await waitOp(del.body)).status, 'success');
  assert.equal((await api('GET', '/1.0/instances/{name}', '/1.0/instances/c1')).status, 404);
  assert.equal((await api('POST', '/1.0/instances/{name}/export', '/1.0/instances/c1/export')).status, 404);
  const small = await api<Operation>('POST', '/1.0/instances', '/1.0/instances', {
    name: 'ex1',
    image: 'fake',
    diskSize: '8M',
    start: true,
  });
  await waitOp(small.body);
  assert.equal((await api('POST', '/1.0/instances/{name}/export', '/1.0/instances/ex1/export')).status, 409);
  await waitOp(
    (await api<Operation>('PUT', '/1.0/instances/{name}/state', '/1.0/instances/ex1/state', { action: 'stop' })).body,
  );
  const exp = await api<Operation>('POST', '/1.0/instances/{name}/export', '/1.0/instances/ex1/export');
  assert.equal(exp.status, 202);
  const exported = await waitOp(exp.body);
  assert.equal(exported.status, 'success');
  assert.match(exported.result?.path ?? '', /exports\/ex1-.*\.raw$/);
  assert.equal(statSync(exported.result?.path ?? '').size, 8 * 1024 * 1024);
  const delEx = await api<Operation>('DELETE', '/1.0/instances/{name}', '/1.0/instances/ex1');
  assert.equal((await waitOp(delEx.body)).status, 'success');
  assert.equal((await api('GET', '/1.0/events', '/1.0/events?since=0')).status, 200);
  assert.equal((await api('DELETE', '/1.0/images/{name}', '/1.0/images/spare')).status, 200);

  const host = await api<{ cpus: number; memoryTotalBytes: number }>('GET', '/1.0/resources', '/1.0/resources');
  assert.ok(host.body.cpus >= 1 && host.body.memoryTotalBytes > 0, 'the host has CPUs and memory');
  assert.equal((await api('POST', '/1.0/session', '/1.0/session', { token: 'wrong' })).status, 401);
  const signedIn = await api('POST', '/1.0/session', '/1.0/session', { token: daemon.token });
  assert.equal(signedIn.status, 200);
  assert.match(String(signedIn.headers['set-cookie']), /HttpOnly/);
  assert.equal((await api('DELETE', '/1.0/session', '/1.0/session')).status, 200);

  await exerciseNetworks();
  await exerciseStorage();

  const metrics = await tcp.raw('GET', '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(String(metrics.headers['content-type']), /^text\/plain/);
  covered.add('GET /metrics 200');

  const routes = Object.entries(doc.paths).flatMap(([p, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
  );
  for (const r of routes) {
    assert.ok(
      [...covered].some((c) => c.startsWith(`${r} `)),
      `route ${r} was exercised`,
    );
  }
});

type ErrorReply = { error: { message: string } };

/** A sandbox with arguments, environment and files; pushes, pulls, refused escapes, a limits change. */
async function exerciseSandboxFiles(): Promise<void> {
  const made = await api<Operation>('POST', '/1.0/instances', '/1.0/instances', {
    name: 'sbf',
    image: 'hello.wasm',
    type: 'sandbox',
    module: Buffer.from(helloModule('hi\n')).toString('base64'),
    args: ['one', 'two words'],
    env: { GREETING: 'hello' },
    files: [{ path: 'data/seed.txt', content: Buffer.from('seed').toString('base64') }],
  });
  assert.equal(made.status, 202);
  assert.equal((await waitOp(made.body)).status, 'success');
  const shown = await api<{ sandbox: { args: string[]; env: Record<string, string> } }>(
    'GET',
    '/1.0/instances/{name}',
    '/1.0/instances/sbf',
  );
  assert.deepEqual(shown.body.sandbox.args, ['one', 'two words']);
  assert.deepEqual(shown.body.sandbox.env, { GREETING: 'hello' });
  const bytes = new Uint8Array([0, 1, 2, 255, 10]);
  const pushed = await api<{ path: string; sizeBytes: number }>(
    'PUT',
    '/1.0/instances/{name}/files',
    '/1.0/instances/sbf/files?path=data/blob.bin',
    bytes,
  );
  assert.equal(pushed.status, 200);
  assert.deepEqual(pushed.body, { path: 'data/blob.bin', sizeBytes: 5 });
  const pulled = await api<Buffer>('GET', '/1.0/instances/{name}/files', '/1.0/instances/sbf/files?path=data/blob.bin');
  assert.equal(pulled.status, 200);
  assert.deepEqual(new Uint8Array(pulled.body), bytes);
  const seed = await api<Buffer>('GET', '/1.0/instances/{name}/files', '/1.0/instances/sbf/files?path=data/seed.txt');
  assert.equal(String(seed.body), 'seed', 'the launch files are in the folder');
  for (const bad of ['../x', '/etc/passwd', 'a//b']) {
    const r = await api<ErrorReply>(
      'PUT',
      '/1.0/instances/{name}/files',
      `/1.0/instances/sbf/files?path=${encodeURIComponent(bad)}`,
      bytes,
    );
    assert.equal(r.status, 400, bad);
    assert.match(r.body.error.message, /^invalid path '/);
  }
  assert.equal((await api('GET', '/1.0/instances/{name}/files', '/1.0/instances/sbf/files?path=nope.txt')).status, 404);
  assert.equal((await api('GET', '/1.0/instances/{name}/files', '/1.0/instances/nope/files?path=x.txt')).status, 404);
  const big = await api<ErrorReply>(
    'PUT',
    '/1.0/instances/{name}/files',
    '/1.0/instances/sbf/files?path=big.bin',
    new Uint8Array(16 * 1024 * 1024 + 1),
  );
  assert.equal(big.status, 413);
  assert.match(big.body.error.message, /too large: at most 16777216 bytes/);
  const patched = await api<{ sandbox: { cpuTimeLimitMs: number } }>(
    'PATCH',
    '/1.0/instances/{name}',
    '/1.0/instances/sbf',
    { cpuTimeLimitMs: 1500 },
  );
  assert.equal(patched.status, 200);
  assert.equal(patched.body.sandbox.cpuTimeLimitMs, 1500);
  const refused = await api<ErrorReply>('PATCH', '/1.0/instances/{name}', '/1.0/instances/sbf', {
    limits: { cpuWeight: 5 },
  });
  assert.equal(refused.status, 400);
  assert.match(refused.body.error.message, /^invalid limits\.cpuWeight: a sandbox has a CPU time limit/);
  const del = await api<Operation>('DELETE', '/1.0/instances/{name}', '/1.0/instances/sbf?force=true');
  assert.equal((await waitOp(del.body)).status, 'success');
}

/** Networks: list, create (with bad input naming its field), show, refused delete while an instance uses it. */
async function exerciseNetworks(): Promise<void> {
  assert.equal((await api('GET', '/1.0/networks', '/1.0/networks')).status, 200);
  const made = await api<{ name: string; subnet: string; running: boolean }>('POST', '/1.0/networks', '/1.0/networks', {
    name: 'cnet',
    subnet: '10.0.41.0/24',
    dhcp: true,
  });
  assert.equal(made.status, 201);
  assert.equal(made.body.subnet, '10.0.41.0/24');
  assert.equal(made.body.running, false);
  const bad: [unknown, RegExp][] = [
    [{ name: '../x' }, /invalid name/],
    [{ name: 'n2', subnet: '10.0.300.0/24' }, /invalid subnet/],
    [{ name: 'n3', subnet: '10.0.42.0/24', vlan: 5000 }, /invalid vlan/],
    [{ name: 'n4', dhcp: true }, /invalid subnet/],
    [{ name: 'n5', subnet: '10.0.43.0/24', gateway: '10.9.9.9' }, /invalid gateway/],
    [{ name: 'n6', colour: 'red' }, /unknown field 'colour'/],
  ];
  for (const [body, re] of bad) {
    const r = await api<ErrorReply>('POST', '/1.0/networks', '/1.0/networks', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.body.error.message, re, JSON.stringify(body));
  }
  assert.equal((await api('POST', '/1.0/networks', '/1.0/networks', { name: 'cnet' })).status, 409);
  assert.equal((await api('GET', '/1.0/networks/{name}', '/1.0/networks/cnet')).status, 200);
  assert.equal((await api('GET', '/1.0/networks/{name}', '/1.0/networks/nope')).status, 404);
  assert.equal((await api('GET', '/1.0/networks/{name}', '/1.0/networks/..%2Fetc')).status, 400);

  const unknownNet = await api<ErrorReply>('POST', '/1.0/instances', '/1.0/instances', {
    name: 'nq',
    image: 'fake',
    network: 'no-such-net',
  });
  assert.equal(unknownNet.status, 400);
  assert.match(unknownNet.body.error.message, /invalid network: no network named 'no-such-net'/);
  const inst = await api<Operation>('POST', '/1.0/instances', '/1.0/instances', {
    name: 'n1',
    image: 'fake',
    network: 'cnet',
  });
  assert.equal((await waitOp(inst.body)).status, 'success');
  const flows = await api<{ running: boolean; flows: unknown[] }>(
    'GET',
    '/1.0/networks/{name}/flows',
    '/1.0/networks/cnet/flows',
  );
  assert.equal(flows.status, 200);
  assert.deepEqual([flows.body.running, flows.body.flows], [false, []], 'no process serves cnet: no flow table');
  assert.equal((await api('GET', '/1.0/networks/{name}/flows', '/1.0/networks/nope/flows')).status, 404);
  const live = await api<{ running: boolean; runtime: unknown; ports: unknown[]; leases: unknown[] }>(
    'GET',
    '/1.0/networks/{name}/state',
    '/1.0/networks/cnet/state',
  );
  assert.equal(live.status, 200);
  assert.deepEqual(
    [live.body.running, live.body.runtime, live.body.ports, live.body.leases],
    [false, null, [], []],
    'no process serves cnet: no ports, no leases',
  );
  assert.equal((await api('GET', '/1.0/networks/{name}/state', '/1.0/networks/nope/state')).status, 404);
  const state = await api<{ nics: { network: string; mac: string; ipv4: null }[]; disks: { name: string }[] }>(
    'GET',
    '/1.0/instances/{name}/state',
    '/1.0/instances/n1/state',
  );
  assert.equal(state.status, 200);
  assert.equal(state.body.nics.length, 1);
  assert.equal(state.body.nics[0]?.network, 'cnet');
  assert.match(state.body.nics[0]?.mac ?? '', /^02(:[0-9a-f]{2}){5}$/);
  assert.equal(state.body.nics[0]?.ipv4, null, 'a stopped instance has no address');
  assert.deepEqual(
    state.body.disks.map((d) => d.name),
    ['root'],
  );
  const used = await api<{ usedBy: string[] }>('GET', '/1.0/networks/{name}', '/1.0/networks/cnet');
  assert.deepEqual(used.body.usedBy, ['/1.0/instances/n1']);
  const refused = await api<ErrorReply>('DELETE', '/1.0/networks/{name}', '/1.0/networks/cnet');
  assert.equal(refused.status, 409);
  assert.match(refused.body.error.message, /used by instance\(s\) n1/);
  const delInst = await api<Operation>('DELETE', '/1.0/instances/{name}', '/1.0/instances/n1');
  assert.equal((await waitOp(delInst.body)).status, 'success');
  assert.equal((await api('DELETE', '/1.0/networks/{name}', '/1.0/networks/cnet')).status, 200);
  assert.equal((await api('DELETE', '/1.0/networks/{name}', '/1.0/networks/cnet')).status, 404);
}

/** Storage: pools, volume create (bad input naming its field), show, refused deletes while used or a clone's base. */
async function exerciseStorage(): Promise<void> {
  const pools = await api<{ name: string }[]>('GET', '/1.0/storage-pools', '/1.0/storage-pools');
  assert.equal(pools.status, 200);
  assert.ok(pools.body.some((p) => p.name === 'default'));
  const vols = '/1.0/storage-pools/{pool}/volumes';
  const vol = '/1.0/storage-pools/{pool}/volumes/{name}';
  assert.equal((await api('GET', vols, '/1.0/storage-pools/default/volumes')).status, 200);
  assert.equal((await api('GET', vols, '/1.0/storage-pools/nope/volumes')).status, 404);
  const v1 = await api<{ format: string; capacityBytes: number }>('POST', vols, '/1.0/storage-pools/default/volumes', {
    name: 'v1',
    size: '1M',
  });
  assert.equal(v1.status, 201);
  assert.equal(v1.body.format, 'qcow2');
  assert.equal(v1.body.capacityBytes, 1024 * 1024);
  const v2 = await api<{ format: string }>('POST', vols, '/1.0/storage-pools/default/volumes', {
    name: 'v2',
    size: 65536,
    format: 'raw',
  });
  assert.equal(v2.status, 201);
  assert.equal(v2.body.format, 'raw');
  const bad: [unknown, RegExp][] = [
    [{ name: 'v3', size: '12X' }, /invalid size/],
    [{ name: 'v3', size: 1000 }, /invalid size/],
    [{ name: '../v3', size: '1M' }, /invalid name/],
    [{ name: 'v3', size: '1M', format: 'vmdk' }, /format/],
  ];
  for (const [body, re] of bad) {
    const r = await api<ErrorReply>('POST', vols, '/1.0/storage-pools/default/volumes', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.body.error.message, re, JSON.stringify(body));
  }
  assert.equal((await api('POST', vols, '/1.0/storage-pools/default/volumes', { name: 'v1', size: '1M' })).status, 409);
  assert.equal((await api('GET', vol, '/1.0/storage-pools/default/volumes/v1')).status, 200);
  assert.equal((await api('GET', vol, '/1.0/storage-pools/default/volumes/nope')).status, 404);

  const pool = await new PoolRegistry(home).open('default');
  await exerciseSnapshotsAndCopy(pool);
  await exerciseResizeAndClone(pool);
  await exercisePools();
  await pool.cloneVolume('c1', 'v1');
  const base = await api<ErrorReply>('DELETE', vol, '/1.0/storage-pools/default/volumes/v1');
  assert.equal(base.status, 409, 'the base of a clone stays');
  const held = await pool.attachVolume('v2', { readOnly: false, pid: process.pid });
  assert.equal(
    (await api('DELETE', vol, '/1.0/storage-pools/default/volumes/v2')).status,
    409,
    'a volume in use stays',
  );
  await held.release();
  for (const name of ['c1', 'v1', 'v2']) {
    assert.equal((await api('DELETE', vol, `/1.0/storage-pools/default/volumes/${name}`)).status, 200, name);
  }
  assert.equal((await api('DELETE', vol, '/1.0/storage-pools/default/volumes/v1')).status, 404);
}

/** Volume snapshots (create, list, revert, delete; refused while held or for raw volumes) and a copy operation. */
async function exerciseSnapshotsAndCopy(pool: Awaited<ReturnType<PoolRegistry['open']>>): Promise<void> {
  const snaps = '/1.0/storage-pools/{pool}/volumes/{name}/snapshots';
  const snap = '/1.0/storage-pools/{pool}/volumes/{name}/snapshots/{snapshot}';
  const revert = '/1.0/storage-pools/{pool}/volumes/{name}/snapshots/{snapshot}/revert';
  const base = '/1.0/storage-pools/default/volumes';
  const made = await api<{ name: string }>('POST', snaps, `${base}/v1/snapshots`, { name: 's1' });
  assert.equal(made.status, 201);
  assert.equal(made.body.name, 's1');
  assert.equal((await api('POST', snaps, `${base}/v1/snapshots`, { name: 's1' })).status, 409);
  const badName = await api<ErrorReply>('POST', snaps, `${base}/v1/snapshots`, { name: '-x' });
  assert.equal(badName.status, 400);
  assert.match(badName.body.error.message, /^invalid name: /);
  const raw = await api<ErrorReply>('POST', snaps, `${base}/v2/snapshots`, { name: 's1' });
  assert.equal(raw.status, 400);
  assert.match(raw.body.error.message, /raw volume/);
  assert.equal((await api('POST', snaps, `${base}/nope/snapshots`, { name: 's1' })).status, 404);
  const list = await api<{ name: string }[]>('GET', snaps, `${base}/v1/snapshots`);
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.body.map((s) => s.name),
    ['s1'],
  );
  assert.equal((await api('GET', snaps, `${base}/nope/snapshots`)).status, 404);
  assert.equal((await api('POST', revert, `${base}/v1/snapshots/s1/revert`)).status, 200);
  assert.equal((await api('POST', revert, `${base}/v1/snapshots/nope/revert`)).status, 404);
  const held = await pool.attachVolume('v1', { readOnly: false, pid: process.pid });
  const busy = await api<ErrorReply>('POST', revert, `${base}/v1/snapshots/s1/revert`);
  assert.equal(busy.status, 409, 'a volume in use is not reverted');
  assert.match(busy.body.error.message, /in use|used by/);
  assert.equal((await api('GET', snaps, `${base}/v1/snapshots`)).status, 409, 'nor read while written');
  await held.release();
  assert.equal((await api('DELETE', snap, `${base}/v1/snapshots/s1`)).status, 200);
  assert.equal((await api('DELETE', snap, `${base}/v1/snapshots/s1`)).status, 404);

  const copyPath = '/1.0/storage-pools/{pool}/volumes/{name}/copy';
  const copy = await api<Operation>('POST', copyPath, `${base}/v1/copy`, { name: 'v1copy', format: 'raw' });
  assert.equal(copy.status, 202);
  assert.equal(copy.body.kind, 'volume.copy');
  assert.equal((await waitOp(copy.body)).status, 'success');
  const copied = await api<{ format: string; capacityBytes: number }>(
    'GET',
    '/1.0/storage-pools/{pool}/volumes/{name}',
    `${base}/v1copy`,
  );
  assert.deepEqual([copied.body.format, copied.body.capacityBytes], ['raw', 1024 * 1024]);
  assert.equal((await api('POST', copyPath, `${base}/v1/copy`, { name: 'v1copy' })).status, 409);
  assert.equal((await api('POST', copyPath, `${base}/v1/copy`, { name: '../x' })).status, 400);
  assert.equal((await api('POST', copyPath, `${base}/nope/copy`, { name: 'x1' })).status, 404);
  assert.equal((await api('DELETE', '/1.0/storage-pools/{pool}/volumes/{name}', `${base}/v1copy`)).status, 200);

  // Export: an operation whose file the daemon sends once, then removes.
  const exportPath = '/1.0/storage-pools/{pool}/volumes/{name}/export';
  const fileRoute = '/1.0/operations/{id}/file';
  const ex = await api<Operation>('POST', exportPath, `${base}/v2/export`, { format: 'raw' });
  assert.equal(ex.status, 202);
  assert.equal(ex.body.kind, 'volume.export');
  const exDone = await waitOp(ex.body);
  assert.equal(exDone.status, 'success', exDone.errorMessage ?? '');
  const exFile = exDone.result?.path ?? '';
  assert.match(exFile, /exports\/default-v2-.*\.raw$/);
  const got = await api<Buffer>('GET', fileRoute, `/1.0/operations/${ex.body.id}/file?remove=true`);
  assert.equal(got.status, 200);
  assert.equal(got.headers['content-length'], String(65536));
  assert.ok(Buffer.isBuffer(got.body) && got.body.length === 65536, 'the raw image of a 64 KiB volume');
  for (let i = 0; i < 50 && existsSync(exFile); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(existsSync(exFile), false, 'remove=true: the daemon dropped its copy once sent');
  const gone = await api<ErrorReply>('GET', fileRoute, `/1.0/operations/${ex.body.id}/file`);
  assert.equal(gone.status, 404);
  assert.match(gone.body.error.message, /left no file/);
  assert.equal((await api('GET', fileRoute, '/1.0/operations/nope/file')).status, 404);
  const compressRaw = await api<ErrorReply>('POST', exportPath, `${base}/v2/export`, { format: 'raw', compress: true });
  assert.equal(compressRaw.status, 400);
  assert.match(compressRaw.body.error.message, /^invalid compress/);
  assert.equal((await api('POST', exportPath, `${base}/nope/export`, {})).status, 404);
  const writer = await pool.attachVolume('v2', { readOnly: false, pid: process.pid });
  assert.equal((await api('POST', exportPath, `${base}/v2/export`, {})).status, 409, 'not while a VM writes it');
  await writer.release();
  const q = await api<Operation>('POST', exportPath, `${base}/v1/export`, { compress: true });
  const qDone = await waitOp(q.body);
  const qFile = await api<Buffer>('GET', fileRoute, `/1.0/operations/${q.body.id}/file`);
  assert.equal(qFile.status, 200);
  assert.equal(qFile.body.subarray(0, 4).toString('latin1'), 'QFI\xfb', 'a qcow2 image');
  assert.ok(existsSync(qDone.result?.path ?? ''), 'without remove the file stays');
  rmSync(qDone.result?.path ?? '');
}

/** Volume resize (grow, +grow, refused shrink, while in use, of a clone's base) and clone (an operation). */
async function exerciseResizeAndClone(pool: Awaited<ReturnType<PoolRegistry['open']>>): Promise<void> {
  const vol = '/1.0/storage-pools/{pool}/volumes/{name}';
  const base = '/1.0/storage-pools/default/volumes';
  const grown = await api<{ capacityBytes: number }>('PATCH', vol, `${base}/v1`, { size: '2M' });
  assert.equal(grown.status, 200);
  assert.equal(grown.body.capacityBytes, 2 * 1024 * 1024);
  const more = await api<{ capacityBytes: number }>('PATCH', vol, `${base}/v2`, { size: '+64K' });
  assert.equal(more.status, 200);
  assert.equal(more.body.capacityBytes, 65536 + 65536, 'a + size grows by that much');
  const shrink = await api<ErrorReply>('PATCH', vol, `${base}/v1`, { size: 1024 * 1024 });
  assert.equal(shrink.status, 409);
  assert.match(shrink.body.error.message, /shrink/);
  for (const [body, re] of [
    [{ size: '2X' }, /^invalid size/],
    [{ size: 1000 }, /^invalid size/],
    [{ size: '2M', colour: 'red' }, /unknown field 'colour'/],
  ] as const) {
    const r = await api<ErrorReply>('PATCH', vol, `${base}/v1`, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.body.error.message, re, JSON.stringify(body));
  }
  assert.equal((await api('PATCH', vol, `${base}/nope`, { size: '4M' })).status, 404);
  const held = await pool.attachVolume('v1', { readOnly: false, pid: process.pid });
  const busy = await api<ErrorReply>('PATCH', vol, `${base}/v1`, { size: '4M' });
  assert.equal(busy.status, 409, 'a volume in use is not resized');
  assert.match(busy.body.error.message, /in use/);
  const cloneBusy = await api<ErrorReply>('POST', `${vol}/clone`, `${base}/v1/clone`, { name: 'cl1' });
  assert.equal(cloneBusy.status, 409, 'a volume being written is not cloned');
  await held.release();

  const clone = await api<Operation>('POST', `${vol}/clone`, `${base}/v1/clone`, { name: 'cl1' });
  assert.equal(clone.status, 202);
  assert.equal(clone.body.kind, 'volume.clone');
  assert.equal((await waitOp(clone.body)).status, 'success');
  const made = await api<{ backing: string; format: string; capacityBytes: number }>('GET', vol, `${base}/cl1`);
  assert.deepEqual([made.body.backing, made.body.format, made.body.capacityBytes], ['v1', 'qcow2', 2 * 1024 * 1024]);
  const baseRo = await api<ErrorReply>('PATCH', vol, `${base}/v1`, { size: '4M' });
  assert.equal(baseRo.status, 409, 'the base of a clone is read-only');
  assert.match(baseRo.body.error.message, /backing of 'cl1'/);
  assert.equal((await api('POST', `${vol}/clone`, `${base}/v1/clone`, { name: 'cl1' })).status, 409);
  const badName = await api<ErrorReply>('POST', `${vol}/clone`, `${base}/v1/clone`, { name: '../x' });
  assert.equal(badName.status, 400);
  assert.match(badName.body.error.message, /^invalid name: /);
  assert.equal((await api('POST', `${vol}/clone`, `${base}/nope/clone`, { name: 'cl2' })).status, 404);

  // Import: an uploaded image becomes a volume; a qcow2 naming a backing file is refused (the daemon would look it
  // up on its own host), as are a taken name, an unknown pool and an empty body.
  const imp = '/1.0/storage-pools/{pool}/volumes/{name}/import';
  const image = Buffer.alloc(128 * 1024, 7);
  const up = await apiUpload<Operation>(imp, `${base}/imp1/import?format=raw`, image);
  assert.equal(up.status, 202);
  assert.equal(up.body.kind, 'volume.import');
  assert.equal((await waitOp(up.body)).status, 'success');
  const imported = await pool.getVolume('imp1');
  assert.deepEqual([imported.format, imported.capacityBytes], ['raw', image.length]);
  assert.ok(readFileSync(imported.path).equals(image), 'the volume holds the uploaded bytes');
  const overlay = readFileSync((await pool.getVolume('cl1')).path);
  const backed = await apiUpload<ErrorReply>(imp, `${base}/imp2/import`, overlay);
  assert.equal(backed.status, 400);
  assert.match(backed.body.error.message, /^invalid body: the qcow2 image names a backing file/);
  assert.equal((await apiUpload(imp, `${base}/imp1/import`, image)).status, 409);
  assert.equal((await apiUpload(imp, '/1.0/storage-pools/nope/volumes/imp2/import', image)).status, 404);
  const empty = await apiUpload<ErrorReply>(imp, `${base}/imp2/import`, Buffer.alloc(0));
  assert.equal(empty.status, 400);
  assert.match(empty.body.error.message, /^invalid body: the image is empty/);
  assert.equal((await apiUpload(imp, `${base}/imp2/import?format=vmdk`, image)).status, 400);
  assert.ok(!existsSync(join(home, 'uploads')) || readdirSync(join(home, 'uploads')).length === 0, 'no upload left');
  assert.ok(!(await pool.listVolumes()).some((v) => v.name === 'imp2'), 'no refused volume');
  assert.equal((await api('DELETE', vol, `${base}/imp1`)).status, 200);

  assert.equal((await api('DELETE', vol, `${base}/cl1`)).status, 200);
  assert.equal((await api('PATCH', vol, `${base}/v1`, { size: '1M' })).status, 409, 'still no shrinking');
}

/** Pools: create (bad input naming its field, duplicates), show, refused delete while not empty, delete. */
async function exercisePools(): Promise<void> {
  const pools = '/1.0/storage-pools';
  const one = '/1.0/storage-pools/{pool}';
  const made = await api<{ name: string; type: string; volumes: number; path: string }>('POST', pools, pools, {
    name: 'p2',
  });
  assert.equal(made.status, 201);
  assert.deepEqual([made.body.name, made.body.type, made.body.volumes], ['p2', 'dir', 0]);
  assert.ok(existsSync(made.body.path), 'the pool directory exists');
  const dir = join(home, 'elsewhere');
  const atPath = await api<{ path: string }>('POST', pools, pools, { name: 'p3', path: dir });
  assert.equal(atPath.status, 201);
  assert.equal(atPath.body.path, dir);
  assert.equal((await api('POST', pools, pools, { name: 'p2' })).status, 409);
  assert.equal((await api('POST', pools, pools, { name: 'p4', path: dir })).status, 409, 'one pool a directory');
  for (const [body, re] of [
    [{ name: '../p' }, /^invalid name: /],
    [{ name: 'p5', path: join(home, 'daemon', 'token') }, /^invalid path: .*not a directory/],
    [{ name: 'p6', type: 'lvm' }, /^invalid body\.type/],
  ] as const) {
    const r = await api<ErrorReply>('POST', pools, pools, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.body.error.message, re, JSON.stringify(body));
  }
  assert.ok(!existsSync(join(home, 'storage-pools', 'p5')), 'a refused pool leaves nothing');
  const shown = await api<{ name: string; availableBytes: number | null }>('GET', one, '/1.0/storage-pools/p2');
  assert.equal(shown.status, 200);
  assert.equal(shown.body.name, 'p2');
  assert.equal((await api('GET', one, '/1.0/storage-pools/nope')).status, 404);
  assert.equal((await api('GET', one, '/1.0/storage-pools/..%2Fx')).status, 400);
  const v = await api('POST', '/1.0/storage-pools/{pool}/volumes', '/1.0/storage-pools/p2/volumes', {
    name: 'pv',
    size: '1M',
  });
  assert.equal(v.status, 201);
  const notEmpty = await api<ErrorReply>('DELETE', one, '/1.0/storage-pools/p2');
  assert.equal(notEmpty.status, 409);
  assert.match(notEmpty.body.error.message, /not empty.*'pv'/);
  assert.equal(
    (await api('DELETE', '/1.0/storage-pools/{pool}/volumes/{name}', '/1.0/storage-pools/p2/volumes/pv')).status,
    200,
  );
  for (const p of ['p2', 'p3']) assert.equal((await api('DELETE', one, `/1.0/storage-pools/${p}`)).status, 200, p);
  assert.ok(existsSync(dir), 'a directory given at creation stays');
  assert.equal((await api('DELETE', one, '/1.0/storage-pools/p2')).status, 404);
}

test('bad input is a 400 naming the field, and leaves no row and no file', async () => {
  const cases: [unknown, RegExp][] = [
    [{ name: '../etc', image: 'fake' }, /invalid name/],
    [{ name: 'a/b', image: 'fake' }, /invalid name/],
    [{ name: 'UPPER', image: 'fake' }, /invalid name/],
    [{ name: 'ok1', image: '../fake' }, /invalid image/],
    [{ name: 'ok1', image: 'nope' }, /invalid image: no image named 'nope'/],
    [{ name: 'ok1', image: 'fake', memory: '12X' }, /invalid memory/],
    [{ name: 'ok1', image: 'fake', memory: '1T' }, /invalid memory/],
    [{ name: 'ok1', image: 'fake', diskSize: '0' }, /invalid diskSize/],
    [{ name: 'ok1', image: 'fake', cpus: 4 }, /invalid cpus/],
    [{ name: 'ok1', image: 'fake', network: 'nonet' }, /invalid network: no network named 'nonet'/],
    [{ name: 'ok1', image: 'fake', engine: 'xen' }, /invalid engine/],
    [{ name: 'ok1', image: 'fake', surprise: 1 }, /unknown field 'surprise'/],
    [{ image: 'fake' }, /invalid body.name: required/],
    [{ name: 'ok1', image: 'fake', limits: { cpuWeight: 0 } }, /cpuWeight/],
  ];
  for (const [body, re] of cases) {
    const r = await api<{ error: { message: string } }>('POST', '/1.0/instances', '/1.0/instances', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.body.error.message, re, JSON.stringify(body));
  }
  const ok = await api<Operation>('POST', '/1.0/instances', '/1.0/instances', { name: 'dup', image: 'fake' });
  await waitOp(ok.body);
  const dup = await api<{ error: { message: string } }>('POST', '/1.0/instances', '/1.0/instances', {
    name: 'dup',
    image: 'fake',
  });
  assert.equal(dup.status, 400);
  assert.match(dup.body.error.message, /invalid name: instance 'dup' already exists/);
  const list = (await tcp.call('GET', '/1.0/instances')) as { name: string }[];
  assert.deepEqual(
    list.map((i) => i.name),
    ['dup'],
  );
  assert.deepEqual(readdirSync(join(home, 'instances')), ['dup']);
  assert.equal(existsSync(join(home, 'etc')), false);
  assert.equal((await api('GET', '/1.0/instances/{name}', '/1.0/instances/..%2Fetc')).status, 400);
  assert.equal((await api('GET', '/1.0/images/{name}', '/1.0/images/..%2F..%2Fetc')).status, 400);
});

test('a crashed VMM marks only its instance failed, with the reason, and emits an event', async () => {
  for (const name of ['k1', 'k2']) {
    const r = await api<Operation>('POST', '/1.0/instances', '/1.0/instances', { name, image: 'fake', start: true });
    await waitOp(r.body);
  }
  const since = ((await tcp.call('GET', '/1.0')) as { lastEventSeq: number }).lastEventSeq;
  daemon.engine.vm('k1')?.end({ kind: 'error', reason: 'the VMM process (pid 1) was killed by SIGKILL' });
  const k1 = (await tcp.call('GET', '/1.0/instances/k1')) as { status: string; statusReason: string };
  assert.equal(k1.status, 'failed');
  assert.match(k1.statusReason, /SIGKILL/);
  assert.equal(((await tcp.call('GET', '/1.0/instances/k2')) as { status: string }).status, 'running');
  const events = (await tcp.call('GET', `/1.0/events?since=${since}`)) as {
    data: { action?: string; name?: string };
  }[];
  assert.ok(events.some((e) => e.data.action === 'instance-failed' && e.data.name === 'k1'));
  const restart = await api<Operation>('PUT', '/1.0/instances/{name}/state', '/1.0/instances/k1/state', {
    action: 'start',
  });
  assert.equal((await waitOp(restart.body)).status, 'success');
});

test('a waiting client that disconnects leaves the operation to finish', async () => {
  const r = await api<Operation>('POST', '/1.0/instances', '/1.0/instances', {
    name: 'w1',
    image: 'fake',
    start: true,
  });
  const ac = new AbortController();
  const waiting = tcp.raw('GET', `/1.0/operations/${r.body.id}/wait?timeout=30`, undefined, ac.signal);
  ac.abort();
  await assert.rejects(waiting);
  const done = await waitOp(r.body);
  assert.equal(done.status, 'success');
});

test('the event stream resumes from a sequence number without a gap', async () => {
  const info = (await tcp.call('GET', '/1.0')) as { lastEventSeq: number };
  const url = `${daemon.url.replace('http', 'ws')}/1.0/events?since=${info.lastEventSeq - 3}`;
  const headers = { authorization: `Bearer ${daemon.token}` };
  // A subscriber that does not ask for transient events gets kept events only.
  const plain = new WebSocket(url, { headers });
  const plainEvents: { transient?: boolean }[] = [];
  plain.on('message', (d: Buffer) => plainEvents.push(JSON.parse(d.toString()) as { transient?: boolean }));
  await new Promise((r) => plain.once('open', r));
  const ws = new WebSocket(`${url}&transient=true`, { headers });
  const seqs: number[] = [];
  type Metrics = { name: string; usage: { cpuSeconds: number }; disks: { name: string }[] };
  const samples: Metrics[] = [];
  ws.on('message', (d: Buffer) => {
    const e = JSON.parse(d.toString()) as { seq: number; type: string; transient?: boolean; data: unknown };
    if (e.transient && e.type === 'metrics') samples.push(e.data as Metrics);
    else if (!e.transient) seqs.push(e.seq);
  });
  await new Promise((r) => ws.once('open', r));
  // A live subscriber gets a usage sample of the running instance, outside the numbered sequence.
  for (let i = 0; i < 50 && samples.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  const p = await api<Operation>('PUT', '/1.0/instances/{name}/state', '/1.0/instances/w1/state', { action: 'pause' });
  await waitOp(p.body);
  await new Promise((r) => setTimeout(r, 100));
  ws.close();
  plain.close();
  assert.ok(plainEvents.length >= 6, 'the plain subscriber got the kept events');
  assert.ok(
    plainEvents.every((e) => !e.transient),
    'and no transient ones',
  );
  const w1 = samples.find((m) => m.name === 'w1');
  assert.ok(w1, 'a metrics sample of w1 arrived');
  assert.ok(w1.usage.cpuSeconds > 0, 'with its CPU time');
  assert.deepEqual(
    w1.disks.map((d) => d.name),
    ['root'],
  );
  assert.deepEqual(seqs.slice(0, 3), [info.lastEventSeq - 2, info.lastEventSeq - 1, info.lastEventSeq]);
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1);
  assert.ok(seqs.length >= 6, `live events followed: ${seqs.length}`);
});

test('several console viewers at once; a late viewer gets the history', async () => {
  const url = `${daemon.url.replace('http', 'ws')}/1.0/instances/k2/console`;
  const headers = { authorization: `Bearer ${daemon.token}` };
  const open = (chunks: string[]) => {
    const ws = new WebSocket(url, { headers });
    ws.on('message', (d: Buffer) => chunks.push(d.toString()));
    return new Promise<WebSocket>((r) => ws.once('open', () => r(ws)));
  };
  const a: string[] = [];
  const b: string[] = [];
  const wa = await open(a);
  await new Promise((r) => setTimeout(r, 50));
  wa.send('echo one\n');
  await new Promise((r) => setTimeout(r, 50));
  const wb = await open(b);
  await new Promise((r) => setTimeout(r, 50));
  wb.send('echo two\n');
  await new Promise((r) => setTimeout(r, 100));
  wa.close();
  wb.close();
  assert.match(a.join(''), /fake boot of k2[\s\S]*echo one[\s\S]*echo two/);
  assert.match(b.join(''), /fake boot of k2[\s\S]*echo one[\s\S]*echo two/);
});
