import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildOciSpec, checkContainerLimits, cpuWeightToShares, renderOciSpec } from './oci-config.js';

const base = {
  name: 'web',
  rootfsPath: '/containers/web/bundle/rootfs',
  args: ['/bin/sh'],
  limits: {},
  cgroupsPath: '/strata-containers/web',
};

test('the spec: namespaces, plain stdio, hostname, cgroups path, standard mounts', () => {
  const spec = buildOciSpec(base);
  assert.equal(spec.ociVersion, '1.0.2');
  assert.equal(spec.process.terminal, false);
  assert.deepEqual(spec.process.args, ['/bin/sh']);
  assert.equal(spec.hostname, 'web');
  assert.equal(spec.root.path, base.rootfsPath);
  assert.equal(spec.linux.cgroupsPath, '/strata-containers/web');
  assert.deepEqual(spec.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
  assert.ok(spec.process.env.some((e) => e.startsWith('PATH=')));
  assert.deepEqual(spec.mounts.map((m) => m.destination).slice(0, 3), ['/proc', '/dev', '/dev/pts']);
  assert.equal(spec.process.noNewPrivileges, true);
  assert.ok(!spec.process.capabilities.bounding.includes('CAP_SYS_ADMIN'));
  assert.equal(spec.linux.resources.memory, undefined, 'no limit: no memory object');
  assert.ok(renderOciSpec(spec).endsWith('}\n'));
  assert.deepEqual(JSON.parse(renderOciSpec(spec)), spec);
});

test('limits map to the runtime spec fields', () => {
  const spec = buildOciSpec({
    ...base,
    hostname: 'db-1',
    limits: { memoryBytes: 64 * 1024 * 1024, cpuWeight: 100, cpuQuotaPercent: 150, pids: 32 },
    netnsPath: '/proc/42/ns/net',
    env: ['PATH=/bin', 'A=b'],
  });
  assert.deepEqual(spec.linux.resources.memory, { limit: 64 * 1024 * 1024, swap: 64 * 1024 * 1024 });
  assert.deepEqual(spec.linux.resources.cpu, { shares: cpuWeightToShares(100), period: 100_000, quota: 150_000 });
  assert.deepEqual(spec.linux.resources.pids, { limit: 32 });
  assert.deepEqual(
    spec.linux.namespaces.find((n) => n.type === 'network'),
    { type: 'network', path: '/proc/42/ns/net' },
  );
  assert.equal(spec.hostname, 'db-1');
  assert.deepEqual(
    spec.process.env.filter((e) => e.startsWith('PATH=')),
    ['PATH=/bin'],
  );
});

test('cpu weight to shares: the ends and the default', () => {
  assert.equal(cpuWeightToShares(1), 2);
  assert.equal(cpuWeightToShares(10_000), 262_144);
  const d = cpuWeightToShares(100);
  assert.ok(d > 2000 && d < 3000, `weight 100 -> ${d}`);
});

test('bad input is refused with the field named', () => {
  assert.throws(() => checkContainerLimits({ memoryBytes: 1024 }), /memory \(at least 4 MiB\)/);
  assert.throws(() => checkContainerLimits({ cpuWeight: 0 }), /cpu weight/);
  assert.throws(() => checkContainerLimits({ cpuQuotaPercent: -1 }), /cpu quota/);
  assert.throws(() => checkContainerLimits({ pids: 0 }), /pids/);
  assert.throws(() => buildOciSpec({ ...base, hostname: 'has space' }), /invalid container hostname/);
  assert.throws(() => buildOciSpec({ ...base, hostname: '-lead' }), /invalid container hostname/);
  assert.throws(() => buildOciSpec({ ...base, args: [] }), /needs a command/);
});

test('default hostnames are valid for any container name', async () => {
  const { hostnameOf } = await import('./container-manager.js');
  assert.equal(hostnameOf('web_1.prod'), 'web-1-prod');
  assert.equal(hostnameOf('_x_'), 'x');
  assert.equal(hostnameOf('..'), 'container');
  for (const n of ['web_1.prod', 'a', '9-z']) buildOciSpec({ ...base, hostname: hostnameOf(n) });
});
