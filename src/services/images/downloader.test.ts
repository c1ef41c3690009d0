import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ProgressReporter } from '../../base/progress.js';
import { type DownloadItem, downloadVerified } from './downloader.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Serves `files` by path; `/corrupt/NAME` serves NAME with one byte flipped. */
async function serve(files: Record<string, Buffer>): Promise<{ base: string; server: Server; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const corrupt = req.url?.startsWith('/corrupt/');
    const body = files[(req.url ?? '').replace(/^\/(corrupt\/)?/, '')];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const out = Buffer.from(body);
    if (corrupt) out.writeUInt8(out.readUInt8(out.length >> 1) ^ 0xff, out.length >> 1);
    res.writeHead(200, { 'content-length': out.length });
    // Several writes, so progress sees several chunks.
    for (let off = 0; off < out.length; off += 65536) res.write(out.subarray(off, off + 65536));
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { base: `http://127.0.0.1:${port}`, server, hits };
}

function recorder(): ProgressReporter & { updates: number[]; totals: number[] } {
  const updates: number[] = [];
  const totals: number[] = [];
  return {
    updates,
    totals,
    phase: (_l, total) => totals.push(total ?? 0),
    update: (done) => updates.push(done),
    note: () => {},
    done: () => {},
  };
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-dl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const A = Buffer.alloc(300_000, 7);
const B = Buffer.from('small package');
const item = (base: string, name: string, body: Buffer, path = name): DownloadItem => ({
  url: `${base}/${path}`,
  fileName: name,
  sizeBytes: body.length,
  sha256: sha(body),
});

test('downloads, verifies and reports progress byte by byte; a second run reuses the cache', async (t) => {
  const { base, server, hits } = await serve({ 'a.deb': A, 'b.deb': B });
  t.after(() => server.close());
  const dir = tempDir(t);
  const p = recorder();
  const items = [item(base, 'a.deb', A), item(base, 'b.deb', B)];
  const r = await downloadVerified(items, dir, { progress: p, signal: new AbortController().signal });
  assert.equal(r.downloadedBytes, A.length + B.length);
  assert.deepEqual(r.fetched, ['a.deb', 'b.deb']);
  assert.deepEqual(p.totals, [A.length + B.length]);
  assert.equal(p.updates.at(-1), A.length + B.length);
  assert.ok(p.updates.length > 2, 'several progress updates');
  assert.ok(
    p.updates.every((v, i) => i === 0 || v >= (p.updates[i - 1] ?? 0)),
    'monotonic',
  );
  assert.deepEqual(readFileSync(join(dir, 'a.deb')), A);
  const again = await downloadVerified(items, dir, { progress: recorder(), signal: new AbortController().signal });
  assert.equal(again.downloadedBytes, 0);
  assert.deepEqual(again.reused, ['a.deb', 'b.deb']);
  assert.equal(hits.length, 2, 'no request on the second run');
});

test('a corrupt download is a CHECKSUM error and leaves no file behind', async (t) => {
  const { base, server } = await serve({ 'a.deb': A });
  t.after(() => server.close());
  const dir = tempDir(t);
  writeFileSync(join(dir, 'a.deb'), 'stale and wrong');
  await assert.rejects(
    downloadVerified([item(base, 'a.deb', A, 'corrupt/a.deb')], dir, {
      progress: recorder(),
      signal: new AbortController().signal,
    }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'CHECKSUM');
      assert.match(
        e.message,
        /^checksum mismatch for a\.deb from http:\/\/127\.0\.0\.1:\d+\/corrupt\/a\.deb: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}$/,
      );
      return true;
    },
  );
  assert.deepEqual(readdirSync(dir), ['a.deb']);
  assert.equal(readFileSync(join(dir, 'a.deb'), 'utf8'), 'stale and wrong', 'the old cached file is untouched');
});

test('a wrong size, an HTTP error and a closed port are one-line errors', async (t) => {
  const { base, server } = await serve({ 'a.deb': A });
  t.after(() => server.close());
  const dir = tempDir(t);
  const opts = { progress: recorder(), signal: new AbortController().signal };
  await assert.rejects(
    downloadVerified([{ ...item(base, 'a.deb', A), sizeBytes: 10 }], dir, opts),
    /wrong size: expected 10 bytes, got more/,
  );
  await assert.rejects(downloadVerified([item(base, 'x.deb', B)], dir, opts), /cannot download .*x\.deb: HTTP 404/);
  const closed = await serve({});
  const closedBase = closed.base;
  await new Promise((r) => closed.server.close(r));
  await assert.rejects(downloadVerified([item(closedBase, 'b.deb', B)], dir, opts), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'NETWORK');
    assert.match(e.message, /^cannot download http:\/\/127\.0\.0\.1:\d+\/b\.deb: ECONNREFUSED$/);
    return true;
  });
  assert.deepEqual(readdirSync(dir), []);
});

test('cancelling stops the download and removes the partial file', async (t) => {
  const { base, server } = await serve({ 'a.deb': A });
  t.after(() => server.close());
  const dir = tempDir(t);
  const ac = new AbortController();
  const p = recorder();
  p.update = () => ac.abort();
  await assert.rejects(
    downloadVerified([item(base, 'a.deb', A)], dir, { progress: p, signal: ac.signal }),
    /cancelled/,
  );
  assert.deepEqual(readdirSync(dir), []);
});

test('a full disk is NO_SPACE naming the file, with no partial file left', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to mount a small tmpfs');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'strata-dl-full-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', dir]);
  t.after(() => {
    if (mounted.status === 0) spawnSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  if (mounted.status !== 0) {
    t.skip(`cannot mount a tmpfs here: ${mounted.stderr.toString().trim()}`);
    return;
  }
  const { base, server } = await serve({ 'a.deb': A });
  t.after(() => server.close());
  await assert.rejects(
    downloadVerified([item(base, 'a.deb', A)], dir, { progress: recorder(), signal: new AbortController().signal }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'NO_SPACE');
      assert.equal(e.message, `no space left on device writing ${join(dir, 'a.deb.partial')}`);
      return true;
    },
  );
  assert.deepEqual(readdirSync(dir), []);
  assert.equal(statSync(dir).isDirectory(), true);
});
