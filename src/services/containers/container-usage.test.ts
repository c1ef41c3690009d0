import assert from 'node:assert/strict';
import { test } from 'node:test';
import { netDevCounters } from './container-manager.js';

test('network counters of a namespace: every interface but loopback, receive and transmit columns', () => {
  const text = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '    lo:    5000      50    0    0    0     0          0         0     5000      50    0    0    0     0       0          0',
    '  eth0:    1200      10    0    0    0     0          0         0      800       7    0    0    0     0       0          0',
    '  eth1:      34       1    0    0    0     0          0         0       66       2    0    0    0     0       0          0',
    '',
  ].join('\n');
  assert.deepEqual(netDevCounters(text), { nicRxBytes: 1234, nicRxPackets: 11, nicTxBytes: 866, nicTxPackets: 9 });
  assert.deepEqual(netDevCounters(''), { nicRxBytes: 0, nicRxPackets: 0, nicTxBytes: 0, nicTxPackets: 0 });
});
