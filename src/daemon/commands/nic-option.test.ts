import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectNicOption, parseNicOption } from './nic-option.js';

test('parseNicOption reads the network, MAC, VLAN and port name', () => {
  assert.deepEqual(parseNicOption('network=lab'), { network: 'lab' });
  assert.deepEqual(parseNicOption('network=lab,mac=52:54:00:AB:cd:01,vlan=20,port=web1'), {
    network: 'lab',
    mac: Uint8Array.of(0x52, 0x54, 0, 0xab, 0xcd, 1),
    vlan: 20,
    port: 'web1',
  });
  assert.deepEqual(
    collectNicOption('network=b', collectNicOption('network=a', undefined)).map((n) => n.network),
    ['a', 'b'],
  );
});

test('parseNicOption names the bad part', () => {
  assert.throws(() => parseNicOption(''), /invalid --nic '': unknown or bad setting ''/);
  assert.throws(() => parseNicOption('mac=02:00:00:00:00:01'), /network=NAME is required/);
  assert.throws(() => parseNicOption('network=../x'), /invalid network name '\.\.\/x'/);
  assert.throws(() => parseNicOption('network=a,mac=03:00:00:00:00:01'), /invalid MAC address '03:00:00:00:00:01'/);
  assert.throws(() => parseNicOption('network=a,mac=00:00:00:00:00:00'), /invalid MAC address/);
  assert.throws(() => parseNicOption('network=a,mac=zz:00:00:00:00:01'), /invalid MAC address 'zz/);
  assert.throws(() => parseNicOption('network=a,vlan=0'), /invalid VLAN id '0'/);
  assert.throws(() => parseNicOption('network=a,vlan=12x'), /invalid VLAN id '12x'/);
  assert.throws(() => parseNicOption('network=a,port=a/b'), /unknown or bad setting 'port=a\/b'/);
  assert.throws(() => parseNicOption('network=a,model=e1000'), /unknown or bad setting 'model=e1000'/);
});
