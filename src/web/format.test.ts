import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fieldOfError, namedField, withoutField } from './field-errors.js';
import { formatAgo, formatBytes, fromBase64, instanceOf, parseEnv, plainAction, splitArgs } from './format.js';

test('sizes read in binary units', () => {
  assert.equal(formatBytes(512 * 1024 * 1024), '512 MiB');
  assert.equal(formatBytes(1.5 * 1024 ** 3), '1.5 GiB');
  assert.equal(formatBytes(0), '0 B');
});

test('times read as how long ago', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  assert.equal(formatAgo('2026-01-01T11:59:58Z', now), 'just now');
  assert.equal(formatAgo('2026-01-01T11:55:00Z', now), '5 min ago');
  assert.equal(formatAgo('2025-12-20T11:55:00Z', now), '2025-12-20');
});

test('resources and kinds read in plain words', () => {
  assert.equal(instanceOf('/1.0/instances/web%201/state'), 'web 1');
  assert.equal(instanceOf('/1.0/operations/x'), undefined);
  assert.equal(plainAction('instance-started'), 'started');
  assert.equal(plainAction('instance.launch'), 'launch');
});

test('API validation messages land at the field they name', () => {
  assert.equal(fieldOfError('invalid body.cpus: must be <= 64'), 'cpus');
  assert.equal(fieldOfError('invalid body.memory: must be integer'), 'memory');
  assert.equal(fieldOfError("invalid name: instance 'a' already exists"), 'name');
  assert.equal(fieldOfError("no image named 'x' (pull it with strata image pull)"), 'image');
  assert.equal(fieldOfError('Invalid diskSize: too big'), 'diskSize', 'as the page capitalises it');
  assert.equal(fieldOfError('something else broke'), undefined);
  assert.equal(fieldOfError("invalid network: no network named 'lab'"), 'network');
  assert.equal(fieldOfError("no network named 'x'"), 'network');
});

test('network and volume messages land at their field, without the field prefix', () => {
  assert.equal(namedField('Invalid subnet: 10.0.300.0/24 is not a CIDR', ['name', 'subnet', 'vlan']), 'subnet');
  assert.equal(namedField('invalid body.vlan: must be integer', ['name', 'subnet', 'vlan']), 'vlan');
  assert.equal(namedField('invalid gateway: bad', ['name', 'subnet', 'vlan']), undefined);
  assert.equal(namedField('Invalid size: lots is not a size', ['name', 'size', 'format']), 'size');
  assert.equal(withoutField('Invalid size: lots is not a size'), 'Lots is not a size');
});

test('a command line splits into arguments; quotes keep blanks; an open quote is refused', () => {
  assert.deepEqual(splitArgs("  first 'second arg'  \"it's\" x''y "), ['first', 'second arg', "it's", 'xy']);
  assert.deepEqual(splitArgs(''), []);
  assert.deepEqual(splitArgs("''"), ['']);
  assert.throws(() => splitArgs('a "b'), /the quote " is not closed/);
});

test('environment lines read as NAME=value; a bad line is named', () => {
  assert.deepEqual(parseEnv('GREETING=hi there\n\nEMPTY=\nX=a=b\r\n'), { GREETING: 'hi there', EMPTY: '', X: 'a=b' });
  assert.throws(() => parseEnv('NOEQUALS'), /'NOEQUALS' is not NAME=value/);
  assert.throws(() => parseEnv('1BAD=x'), /'1BAD=x' is not NAME=value/);
});

test('base64 output reads as UTF-8 text', () => {
  assert.equal(fromBase64(Buffer.from('héllo\n').toString('base64')), 'héllo\n');
  assert.equal(fromBase64(''), '');
});

test('dotted validation paths name their last part', () => {
  assert.equal(namedField('invalid limits.cpuWeight: must be 1..10000', ['cpuWeight'] as const), 'cpuWeight');
  assert.equal(fieldOfError('invalid body.limits.cpuQuotaPercent: must be >= 0'), 'cpuQuotaPercent');
  assert.equal(fieldOfError("invalid hostname: 'a_b' is not a host name label"), 'hostname');
  assert.equal(withoutField('invalid limits.cpuWeight: must be 1..10000'), 'Must be 1..10000');
});
