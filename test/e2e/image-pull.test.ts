// `strata image pull|list|rm` end to end, through the built CLI: a pull through a local mirror proxy (which can
// corrupt packages and counts requests), the second pull that downloads nothing, and every bad input the issue
// names (unknown image, no apt-get, no network, corrupt download, full disk). Each failure must be one line on
// stderr, exit 1, and leave nothing half-written in the store. The real packages come from the host's own
// Debian mirror (read from its apt sources), reached through the proxy.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { discoverDebianMirror } from '../../src/services/images/apt-private.js';
import { runStrata } from '../helpers/strata-cli.js';

const hostMirror = await discoverDebianMirror();
const PULL_TIMEOUT_MS = 600_000;

function tempHome(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-pull-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Everything under STRATA_HOME that is half-written: staging folders, partial downloads. */
function leftovers(home: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (/^\.(staging|removing|replaced)-|\.partial$/.test(e.name)) out.push(p);
      if (e.isDirectory() && e.name !== 'lists') walk(p);
    }
  };
  walk(home);
  return out;
}

function images(home: string): string[] {
  const dir = join(home, 'images');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/**
 * A Debian mirror on 127.0.0.1 that forwards `/debian/...` to the host's mirror. In `corrupt` mode it flips one
 * byte in the middle of every `.deb` (same length), the way a broken cache or disk would.
 */
async function mirrorProxy(upstream: string) {
  const state = { corrupt: false, requests: [] as string[] };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').replace(/^\/debian/, '');
    state.requests.push(path);
    const headers: Record<string, string> = {};
    for (const h of ['if-modified-since', 'range', 'if-range']) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    fetch(upstream + path, { method: req.method, headers })
      .then(async (up) => {
        const out: Record<string, string> = {};
        for (const h of ['content-length', 'last-modified', 'content-type', 'content-range']) {
          const v = up.headers.get(h);
          if (v) out[h] = v;
        }
        res.writeHead(up.status, out);
        if (!up.body || req.method === 'HEAD') {
          res.end();
          return;
        }
        const size = Number(up.headers.get('content-length') ?? 0);
        let offset = 0;
        const flipAt = state.corrupt && path.endsWith('.deb') ? size >> 1 : -1;
        for await (const chunk of Readable.fromWeb(up.body as never)) {
          const buf = Buffer.from(chunk as Buffer);
          if (flipAt >= offset && flipAt < offset + buf.length)
            buf.writeUInt8(buf.readUInt8(flipAt - offset) ^ 0xff, flipAt - offset);
          offset += buf.length;
          if (!res.write(buf)) await new Promise((r) => res.once('drain', r));
        }
        res.end();
      })
      .catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/debian`;
  return { url, state, close: () => new Promise((r) => server.close(r)) };
}

test('pull through a mirror: corrupt packages fail cleanly, a good pull builds, a second pull downloads nothing, rm removes', {
  skip: !hostMirror && 'the host has no Debian mirror in its apt sources',
  timeout: 2 * PULL_TIMEOUT_MS,
}, async (t) => {
  const home = tempHome(t);
  const env = { STRATA_HOME: home };
  const proxy = await mirrorProxy(hostMirror!.uri);
  t.after(() => proxy.close());

  proxy.state.corrupt = true;
  const bad = await runStrata(['image', 'pull', 'debian', '--mirror', proxy.url, '--quiet'], {
    env,
    timeoutMs: PULL_TIMEOUT_MS,
  });
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(
    bad.stderr,
    /^strata: checksum mismatch for \S+\.deb from http:\/\/127\.0\.0\.1:\d+\/debian\/pool\/\S+: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}\n$/,
  );
  assert.deepEqual(images(home), []);
  assert.deepEqual(leftovers(home), []);

  proxy.state.corrupt = false;
  const good = await runStrata(['image', 'pull', 'debian', '--mirror', proxy.url], { env, timeoutMs: PULL_TIMEOUT_MS });
  assert.equal(good.code, 0, good.stderr);
  assert.match(
    good.stdout,
    /^pulled image debian: Debian trixie riscv64, kernel 6\.12\.\S+-riscv64 \(linux \S+, busybox \S+, opensbi \S+\); downloaded \d+(\.\d)? MiB; image \d+(\.\d)? MiB\n$/,
  );
  assert.match(good.stderr, /downloaded 4 packages, \d+(\.\d)? MiB/, 'progress is shown without --quiet');
  assert.deepEqual(images(home), ['debian']);
  assert.deepEqual(leftovers(home), []);
  const before = await runStrata(['image', 'list', '--format', 'json'], { env });

  proxy.state.requests = [];
  const again = await runStrata(['image', 'pull', 'debian', '--mirror', proxy.url, '--quiet'], {
    env,
    timeoutMs: PULL_TIMEOUT_MS,
  });
  assert.equal(again.code, 0, again.stderr);
  assert.match(
    again.stdout,
    /^image debian is up to date \(linux \S+, busybox \S+, opensbi \S+\): .*no package downloaded\n$/,
  );
  assert.equal(again.stderr, '', '--quiet prints no progress');
  assert.deepEqual(
    proxy.state.requests.filter((p) => !p.startsWith('/dists/')),
    [],
    'the second pull asks the mirror only for its index, never for a package',
  );
  const after = await runStrata(['image', 'list', '--format', 'json'], { env });
  assert.equal(after.stdout, before.stdout, 'the image is untouched');

  const rm = await runStrata(['image', 'rm', 'debian'], { env });
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout, 'removed image debian\n');
  assert.deepEqual(images(home), []);
  assert.equal((await runStrata(['image', 'list', '--format', 'json'], { env })).stdout, '[]\n');
});

test('an unknown image name: one line, exit 1, nothing created', async (t) => {
  const home = tempHome(t);
  const r = await runStrata(['image', 'pull', 'ubuntu'], { env: { STRATA_HOME: home } });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "strata: unknown image 'ubuntu': images that can be pulled: debian\n");
  const rm = await runStrata(['image', 'rm', 'nosuch'], { env: { STRATA_HOME: home } });
  assert.equal(rm.code, 1);
  assert.equal(rm.stderr, `strata: no image named 'nosuch' in ${join(home, 'images')}\n`);
  assert.deepEqual(images(home), []);
});

test('no apt-get in PATH: one line naming apt-get, exit 1, nothing created', async (t) => {
  const home = tempHome(t);
  const r = await runStrata(['image', 'pull', 'debian', '--quiet'], {
    env: { STRATA_HOME: home, PATH: join(home, 'no-bin') },
  });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^strata: apt-get not found in PATH: pulling Debian images needs apt \(install the apt package\)\n$/,
  );
  assert.deepEqual(images(home), []);
  assert.deepEqual(leftovers(home), []);
});

test('no network (the mirror port is closed): one line naming the mirror, exit 1, nothing created', async (t) => {
  const home = tempHome(t);
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const mirror = `http://127.0.0.1:${port}/debian`;
  const r = await runStrata(['image', 'pull', 'debian', '--mirror', mirror], {
    env: { STRATA_HOME: home },
    timeoutMs: 120_000,
  });
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  assert.match(
    lines.at(-1) ?? '',
    new RegExp(`^strata: cannot reach Debian mirror ${mirror}: Could not connect to 127\\.0\\.0\\.1:${port}`),
  );
  assert.equal(lines.filter((l) => l.startsWith('strata:')).length, 1);
  assert.deepEqual(images(home), []);
  assert.deepEqual(leftovers(home), []);
});

test('a mirror without Debian (HTTP 404): one line, exit 1', async (t) => {
  const home = tempHome(t);
  const server = createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/debian`;
  const r = await runStrata(['image', 'pull', 'debian', '--mirror', mirror, '--quiet'], { env: { STRATA_HOME: home } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`^strata: Debian mirror ${mirror} has no trixie/main riscv64 index: .*404.*\\n$`));
  assert.deepEqual(images(home), []);
});

test('a full disk: one line "no space left on device" naming the path, exit 1, nothing half-written', {
  skip: !hostMirror && 'the host has no Debian mirror in its apt sources',
  timeout: PULL_TIMEOUT_MS,
}, async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to mount a small tmpfs');
    return;
  }
  const home = mkdtempSync(join(tmpdir(), 'strata-full-'));
  // Room for apt's index (about 20 MB) and the small packages, not for the 110 MB kernel package.
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', home]);
  t.after(() => {
    if (mounted.status === 0) spawnSync('umount', [home]);
    rmSync(home, { recursive: true, force: true });
  });
  if (mounted.status !== 0) {
    t.skip(`cannot mount a tmpfs here: ${mounted.stderr.toString().trim()}`);
    return;
  }
  const r = await runStrata(['image', 'pull', 'debian', '--quiet'], {
    env: { STRATA_HOME: home },
    timeoutMs: PULL_TIMEOUT_MS,
  });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`^strata: no space left on device (writing|for apt state in) ${home.replace(/[.]/g, '\\.')}/\\S+.*\\n$`),
  );
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.deepEqual(images(home), []);
  assert.deepEqual(leftovers(home), []);
});
