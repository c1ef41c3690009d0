import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderTable } from './table.js';

test('renderTable aligns columns under upper-case headers', () => {
  const text = renderTable(
    [
      { name: 'debian', size: 12 },
      { name: 'a', size: 12345 },
    ],
    [
      { header: 'name', cell: (r) => r.name },
      { header: 'size', cell: (r) => String(r.size), align: 'right' },
    ],
  );
  assert.equal(text, 'NAME     SIZE\ndebian     12\na       12345\n');
});

test('renderTable of no rows prints the header', () => {
  assert.equal(renderTable([], [{ header: 'name', cell: (r: { n: string }) => r.n }]), 'NAME\n');
});
