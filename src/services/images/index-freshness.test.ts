import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentProgress } from '../../base/progress.js';
import { formatAge, readIndexStamp, writeIndexStamp } from './index-freshness.js';

test('the index stamp round-trips for the same sources and is ignored for other sources', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-stamp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'index-checked.json');
  assert.equal(await readIndexStamp(path, 'deb a', silentProgress), undefined, 'no stamp: never checked');
  const at = new Date('2026-01-02T03:04:05.000Z');
  await writeIndexStamp(path, 'deb a', at);
  assert.deepEqual(await readIndexStamp(path, 'deb a', silentProgress), at);
  assert.equal(await readIndexStamp(path, 'deb b', silentProgress), undefined, 'another mirror is not fresh');
});

test('a damaged stamp is said in a note and means "check the index again"', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-stamp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'index-checked.json');
  const notes: string[] = [];
  const progress = { ...silentProgress, note: (s: string) => notes.push(s) };
  writeFileSync(path, '{');
  assert.equal(await readIndexStamp(path, 'deb a', progress), undefined);
  writeFileSync(path, JSON.stringify({ sources: 'deb a', checkedAt: 'soon' }));
  assert.equal(await readIndexStamp(path, 'deb a', progress), undefined);
  assert.deepEqual(notes, [
    `the index stamp ${path} is not JSON: checking the mirror's index again`,
    `the index stamp ${path} has no valid 'checkedAt': checking the mirror's index again`,
  ]);
});

test('ages read as people say them', () => {
  assert.equal(formatAge(1000), '1 second');
  assert.equal(formatAge(59_000), '59 seconds');
  assert.equal(formatAge(12 * 60_000 + 5000), '12 minutes');
  assert.equal(formatAge(3 * 3600_000 + 1), '3 hours');
});
