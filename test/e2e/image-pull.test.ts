// `strata image pull|list|rm` end to end, through the built CLI: a pull through a local mirror proxy (which can
// corrupt packages and counts requests), the second pull that downloads nothing, and every bad input the issue
// names (unknown image, no apt-get, no network, corrupt download, full disk). Each failure must be one line on
// stderr, exit 1, and leave nothing half-written in the store. The real packages come from the host's own
// Debian mirror (read from its apt sources), reached through the proxy.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** The image names in the store (dot-entries are content, staging and lock files, not images). */
function images(home: string): string[] {
  const dir = join(home, 'images');
  return existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('.')) : [];
}

/** Everything in the images folder that is not an image link, its content folder or a lock. */
function storeDebris(home: string): string[] {
  const dir = join(home, 'images');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => n.startsWith('.') && !/^\.image-[^@]+@[0-9a-f]+$|^\.pull-.+\.lock$/.test(n));
}

/**
 * A Debian mirror on 127.0.0.1 that forwards `/debian/...` to the host's mirror. In `corrupt` mode it flips one
 * byte in the middle of every `.deb` (same length), the way a broken cache or disk would; in `tamperIndex` mode
 * it changes one bit in the middle of the signed `InRelease`/`Release` (a forged index).
 */
async function mirrorProxy(upstream: string) {
  const state = { corrupt: false, tamperIndex: false, requests: [] as string[] };
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
        const corruptDeb = state.corrupt && path.endsWith('.deb');
        const tamper = state.tamperIndex && /\/(In)?Release$/.test(path);
        const flipAt = corruptDeb || tamper ? size >> 1 : -1;
        // A bit, not a byte, for the index: the forged text stays plausible, only the signature can tell.
        const mask = tamper ? 0x01 : 0xff;
        for await (const chunk of Readable.fromWeb(up.body as never)) {
          const buf = Buffer.from(chunk as Buffer);
          if (flipAt >= offset && flipAt < offset + buf.length)
            buf.writeUInt8(buf.readUInt8(flipAt - offset) ^ mask, flipAt - offset);
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

test('pull through a mirror: corrupt packages fail cleanly, a good pull builds, a second pull does no network work, rm removes', {
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
    /^image debian is up to date \(linux \S+, busybox \S+, opensbi \S+\): no network used, no package downloaded; the mirror index was checked \d+ (second|minute)s? ago — `--refresh` checks again now\n$/,
  );
  assert.equal(again.stderr, '', '--quiet prints no progress');
  assert.deepEqual([...proxy.state.requests], [], 'a second pull within the freshness window makes no request at all');
  const after = await runStrata(['image', 'list', '--format', 'json'], { env });
  assert.equal(after.stdout, before.stdout, 'the image is untouched');

  const refreshed = await runStrata(['image', 'pull', 'debian', '--mirror', proxy.url, '--refresh', '--quiet'], {
    env,
    timeoutMs: PULL_TIMEOUT_MS,
  });
  assert.equal(refreshed.code, 0, refreshed.stderr);
  assert.match(
    refreshed.stdout,
    /^image debian is up to date \(.*\): (the mirror's signed index is unchanged|apt fetched the mirror's signed index) .*no package downloaded\n$/,
  );
  assert.ok(proxy.state.requests.length > 0, '--refresh asks the mirror');
  assert.deepEqual(
    proxy.state.requests.filter((p) => !p.startsWith('/dists/')),
    [],
    '--refresh asks the mirror only for its index, never for a package',
  );

  // An image built by an older recipe is rebuilt, from the cached packages and index: still no request.
  const manifestPath = join(home, 'images', 'debian', 'manifest.json');
  const older = JSON.parse(readFileSync(manifestPath, 'utf8')) as { builderVersion: number };
  writeFileSync(manifestPath, JSON.stringify({ ...older, builderVersion: older.builderVersion - 1 }));
  proxy.state.requests = [];
  const rebuilt = await runStrata(['image', 'pull', 'debian', '--mirror', proxy.url, '--quiet'], {
    env,
    timeoutMs: PULL_TIMEOUT_MS,
  });
  assert.equal(rebuilt.code, 0, rebuilt.stderr);
  assert.match(rebuilt.stdout, /; built from cached packages, no package downloaded, no network used; image /);
  assert.deepEqual([...proxy.state.requests], []);
  assert.deepEqual(storeDebris(home), [], 'the replaced image leaves nothing behind');

  // A corrupt manifest is never taken for "no image": the pull says so, naming the file, and rebuilds.
  writeFileSync(manifestPath, '{');
  const repaired = await runStrata(['image', 'pull', 'debian', '--mirror', proxy.url], {
    env,
    timeoutMs: PULL_TIMEOUT_MS,
  });
  assert.equal(repaired.code, 0, repaired.stderr);
  assert.match(
    repaired.stderr,
    /^corrupt image manifest \S+\/images\/debian\/manifest\.json: not JSON: rebuilding image debian$/m,
  );
  assert.match(repaired.stdout, /^pulled image debian: .*no network used; image /);
  assert.deepEqual([...proxy.state.requests], []);
  assert.equal(readdirSync(join(home, 'images')).filter((n) => n.startsWith('.image-')).length, 1);

  const rm = await runStrata(['image', 'rm', 'debian'], { env });
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout, 'removed image debian\n');
  assert.deepEqual(images(home), []);
  assert.equal((await runStrata(['image', 'list', '--format', 'json'], { env })).stdout, '[]\n');
});

test('a forged index (InRelease that does not match its signature): one line naming the signature, exit 1, nothing in the store', {
  skip: !hostMirror && 'the host has no Debian mirror in its apt sources',
  timeout: PULL_TIMEOUT_MS,
}, async (t) => {
  const home = tempHome(t);
  const proxy = await mirrorProxy(hostMirror!.uri);
  t.after(() => proxy.close());
  proxy.state.tamperIndex = true;
  const r = await runStrata(['image', 'pull', 'debian', '--mirror', proxy.url, '--quiet'], {
    env: { STRATA_HOME: home },
    timeoutMs: PULL_TIMEOUT_MS,
  });
  assert.equal(r.code, 1, r.stdout);
  assert.match(
    r.stderr,
    new RegExp(`^strata: signature of the Debian index at ${proxy.url.replace(/[.]/g, '\\.')} does not verify: .*\\n$`),
  );
  assert.equal(r.stderr.split('\n').length, 2, 'one line');
  assert.ok(
    proxy.state.requests.every((p) => p.startsWith('/dists/')),
    `nothing but the index was fetched: ${proxy.state.requests.join(' ')}`,
  );
  assert.deepEqual(images(home), []);
  assert.deepEqual(leftovers(home), []);
  assert.equal(
    existsSync(join(home, 'cache', 'debian', 'index-checked.json')),
    false,
    'a forged index is never trusted later',
  );
});

test('an unknown image name: one line, exit 1, nothing created', async (t) => {
  const home = tempHome(t);
  const r = await runStrata(['image', 'pull', 'ubuntu'], { env: { STRATA_HOME: home } });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "strata: unknown image 'ubuntu': images that can be pulled: debian\n");
  const rm = await runStrata(['image', 'rm', 'nosuch'], { env: { STRATA_HOME: home } });
  assert.equal(rm.code, 1);
  assert.equal(rm.stderr, `strata: no image named 'nosuch' in ${join(home, 'images')}\n`);
  // Booting a missing image names the pull that fetches it, and never suggests a pull that cannot work.
  const run = await runStrata(['run', '--image', 'plan9'], { env: { STRATA_HOME: home } });
  assert.equal(run.code, 1);
  assert.equal(
    run.stderr,
    "strata: image 'plan9' is not in the image store; `strata image pull` can fetch only: debian\n",
  );
  const runDebian = await runStrata(['run', '--image', 'debian'], { env: { STRATA_HOME: home } });
  assert.equal(runDebian.code, 1);
  assert.equal(runDebian.stderr, "strata: image 'debian' is not in the image store: run `strata image pull debian`\n");
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
