// Real Linux clients against the virtual network: a network namespace made for the test holds a TAP device
// whose frames Strata's TAP bridge helper carries to the switch endpoint (the same Unix-socket protocol a `strata run`
// uses). Inside the namespace busybox udhcpc gets a lease from our DHCP server, ping reaches the router, nslookup
// goes through the DNS forwarder, and wget talks HTTP through the TCP NAT to a server on this host's loopback.
// Traffic stays inside the namespace and on 127.0.0.1. Skipped unless root with /dev/net/tun, ip, busybox and the built helper.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { serveNetwork } from '../network-host.js';

/** The TAP bridge helper (native/strata-tap-bridge.c), built next to the hart by `npm run build`. */
const TAP_BRIDGE = fileURLToPath(new URL('../../../../build/strata-tap-bridge', import.meta.url));

const run = promisify(execFile);
const has = (cmd: string, ...args: string[]) => spawnSync(cmd, args).status === 0;
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !existsSync('/dev/net/tun')
      ? 'no /dev/net/tun'
      : !has('ip', '-V')
        ? 'no ip (iproute2)'
        : !existsSync(TAP_BRIDGE)
          ? 'TAP bridge helper not built (no C compiler)'
          : !has('busybox', 'true')
            ? 'no busybox'
            : false;

const DHCP_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew)
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route add default via "$router" dev "$interface"
    echo "lease ip=$ip mask=$mask router=$router dns=$dns"
    ;;
esac
exit 0
`;

/** A DNS answer with one A record 192.0.2.7 for any query (RFC 1035 4.1). */
function dnsAnswer(q: Buffer): Buffer {
  const h = Buffer.from(q.subarray(0, 12));
  h[2] = 0x81; // QR, RD
  h[3] = 0x80; // RA
  h.writeUInt16BE(1, 6); // ANCOUNT
  const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
  return Buffer.concat([h, q.subarray(12), rr]);
}

test('Linux in a network namespace: udhcpc lease, ping, DNS via the forwarder, HTTP via TCP NAT', {
  skip,
  timeout: 60000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-ns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ns = `strata-test-${process.pid}`;
  const inNs = (...cmd: string[]) => run('ip', ['netns', 'exec', ns, ...cmd], { timeout: 30000 });

  const dns = createSocket('udp4');
  await new Promise<void>((r) => dns.bind(0, '127.0.0.1', () => r()));
  dns.on('message', (q, rinfo) => dns.send(dnsAnswer(q), rinfo.port, rinfo.address));
  t.after(() => dns.close());

  const body = Buffer.alloc(200_000, 0).map((_, i) => (i * 31) & 255);
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const up = Buffer.concat(chunks);
      res.setHeader('content-type', 'application/octet-stream');
      if (req.method === 'POST') res.end(`posted ${up.length} ${createHash('sha256').update(up).digest('hex')}\n`);
      else res.end(body);
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  t.after(() => http.close());
  const httpPort = (http.address() as { port: number }).port;

  const host = await serveNetwork(
    { name: 'nstest', subnet: '10.0.2.1/24' },
    { runDir: dir, dnsUpstream: { host: '127.0.0.1', port: dns.address().port } },
  );
  t.after(() => host.close());

  const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (add.status !== 0) {
    t.skip(`cannot create a network namespace: ${add.stderr.trim()}`);
    return;
  }
  t.after(() => spawnSync('ip', ['netns', 'del', ns]));
  const helper: ChildProcess = spawn(
    TAP_BRIDGE,
    ['--socket', host.endpoint.path, '--ifname', 'tap0', '--netns', `/run/netns/${ns}`, '--port-name', 'tap'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => helper.kill());
  await new Promise<void>((resolve, reject) => {
    helper.stdout!.on('data', (d: Buffer) => d.toString().includes('attached') && resolve());
    helper.once('exit', (rc) => reject(new Error(`TAP helper exited ${rc}`)));
  });
  await inNs('ip', 'link', 'set', 'lo', 'up');

  const script = join(dir, 'udhcpc.sh');
  writeFileSync(script, DHCP_SCRIPT);
  chmodSync(script, 0o755);
  const lease = await inNs('busybox', 'udhcpc', '-i', 'tap0', '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', script);
  assert.match(lease.stdout, /lease ip=10\.0\.2\.100 mask=24 router=10\.0\.2\.1 dns=10\.0\.2\.1/);
  assert.equal(host.router!.interfaces[0]!.dhcp!.list()[0]?.state, 'bound');

  const ping = await inNs('busybox', 'ping', '-c', '2', '-W', '2', '10.0.2.1');
  assert.match(ping.stdout, /2 packets received/);

  const ns1 = await inNs('busybox', 'nslookup', 'guest-test.example', '10.0.2.1');
  assert.match(ns1.stdout, /192\.0\.2\.7/);

  const get = await run(
    'ip',
    ['netns', 'exec', ns, 'busybox', 'wget', '-q', '-O', '-', `http://10.0.2.1:${httpPort}/`],
    {
      encoding: 'buffer',
      maxBuffer: 1 << 22,
      timeout: 30000,
    },
  );
  assert.equal(get.stdout.length, body.length);
  assert.ok(Buffer.compare(get.stdout, body) === 0, 'body intact through the TCP NAT');

  const upload = Buffer.alloc(100_000, 0).map((_, i) => 65 + ((i * 13) % 26)); // busybox wget posts text (stops at NUL)
  const upFile = join(dir, 'up.bin');
  writeFileSync(upFile, upload);
  const post = await inNs('sh', '-c', `busybox wget -q -O - --post-file=${upFile} http://10.0.2.1:${httpPort}/`);
  assert.equal(post.stdout.trim(), `posted ${upload.length} ${createHash('sha256').update(upload).digest('hex')}`);
  assert.equal(host.router!.tcp.size <= 1, true);
});
