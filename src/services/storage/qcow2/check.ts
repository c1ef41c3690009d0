import { corrupt } from './image-file.js';
import type { Qcow2State } from './image-state.js';
import { entryOffset, HI_COMPRESSED, HI_COPIED } from './l2-entry.js';
import { Refcounts } from './refcounts.js';
import { readSnapshotL1, readSnapshotTableWithSize } from './snapshot-table.js';
import { walkTree } from './tree.js';

/** Result of {@link checkImage}, in the terms of `qemu-img check`. */
export interface CheckResult {
  /** Refcounts lower than the references, references past the file, wrong COPIED flags. */
  corruptions: number;
  /** Clusters with a refcount higher than their references (wasted space, harmless). */
  leaks: number;
  /** One line per problem found (at most 100 kept). */
  problems: string[];
}

/** Counts the references every cluster should have; with `withRefcounts`, the refcount structure's own. */
export async function computeReferences(img: Qcow2State, withRefcounts: boolean): Promise<Map<number, number>> {
  const cs = img.clusterSize;
  const refs = new Map<number, number>();
  const add = (c: number): void => {
    refs.set(c, (refs.get(c) ?? 0) + 1);
  };
  const addRange = (offset: number, bytes: number): void => {
    for (let c = offset / cs; c < Math.ceil((offset + bytes) / cs); c++) add(c);
  };
  add(0);
  addRange(img.header.l1TableOffset, img.header.l1Size * 8);
  await walkTree(img, img.l1, add);
  if (img.header.nbSnapshots > 0) {
    const { entries, bytes } = await readSnapshotTableWithSize(img);
    addRange(img.header.snapshotsOffset, bytes);
    for (const s of entries) {
      addRange(s.l1TableOffset, s.l1Size * 8);
      await walkTree(img, await readSnapshotL1(img, s), add);
    }
  }
  if (withRefcounts) for (const off of img.refcounts.ownClusters()) add(off / cs);
  return refs;
}

/** Compares refcounts with references and checks COPIED flags of the active tables (metadata must be flushed). */
export async function checkImage(img: Qcow2State): Promise<CheckResult> {
  const res: CheckResult = { corruptions: 0, leaks: 0, problems: [] };
  const note = (p: string): void => {
    if (res.problems.length < 100) res.problems.push(p);
  };
  const refs = await computeReferences(img, true);
  const rc = img.refcounts;
  const fileClusters = Math.ceil(img.file.size / img.clusterSize);
  const last = Math.max(fileClusters, rc.endCluster, maxKey(refs)) + 1;
  const compare = (c: number): void => {
    const want = refs.get(c) ?? 0;
    const have = rc.get(c);
    if (want > 0 && c >= fileClusters) {
      res.corruptions++;
      note(`cluster ${c} is referenced but lies past the end of the file`);
    }
    if (have < want) {
      res.corruptions++;
      note(`cluster ${c}: refcount ${have} < references ${want}`);
    } else if (have > want) {
      res.leaks++;
      note(`cluster ${c}: refcount ${have} > references ${want} (leak)`);
    }
  };
  for (let c = 0; c < last; c++) compare(c);
  // refcounts set past the end of the file and of every reference are leaks too
  rc.forEachNonZero((c) => {
    if (c >= last) compare(c);
  });
  const fixes = await copiedFlagProblems(img, false);
  res.corruptions += fixes.length;
  for (const f of fixes) note(f);
  return res;
}

/**
 * Finds (and with `fix`, corrects in memory) COPIED flags of the active L1 and L2 tables: set exactly when the
 * refcount is one (qcow2.txt "L1 table entry" bit 63, "L2 table entry" bit 63; never on compressed clusters).
 */
export async function copiedFlagProblems(img: Qcow2State, fix: boolean): Promise<string[]> {
  const cs = img.clusterSize;
  const out: string[] = [];
  for (let i = 0; i < img.l1.length; i++) {
    const off = img.l1[i] ?? 0;
    if (off === 0) continue;
    const want = img.refcounts.get(off / cs) === 1;
    if (want !== (img.l1Copied[i] === 1)) {
      out.push(
        `L1 entry ${i}: COPIED flag ${img.l1Copied[i] ? 'set' : 'clear'} with refcount ${img.refcounts.get(off / cs)}`,
      );
      if (fix) img.setL1(i, off, want);
    }
    const t = await img.l2.load(off, `L2 table of L1 entry ${i}`);
    for (let e = 0; e < img.l2Entries; e++) {
      const pos = e * img.l2EntryBytes;
      const hi = t.dv.getUint32(pos);
      const lo = t.dv.getUint32(pos + 4);
      if ((hi & HI_COMPRESSED) !== 0) continue;
      const host = entryOffset(hi, lo);
      const has = (hi & HI_COPIED) !== 0;
      const should = host !== 0 && img.refcounts.get(host / cs) === 1;
      if (has !== should) {
        out.push(`L2 table ${off} entry ${e}: COPIED flag ${has ? 'set' : 'clear'} is wrong`);
        if (fix) {
          t.dv.setUint32(pos, should ? (hi | HI_COPIED) >>> 0 : (hi & ~HI_COPIED) >>> 0);
          t.dirty = true;
        }
      }
    }
  }
  return out;
}

/**
 * Rebuilds the refcount structure from the references (the repair of a dirty or leaking image): a new table and
 * blocks are written past the end of the file, made durable, and only then named by the header; the old
 * structure becomes free space. COPIED flags are then corrected.
 */
export async function rebuildRefcounts(img: Qcow2State): Promise<void> {
  const refs = await computeReferences(img, false);
  const fileClusters = Math.ceil(img.file.size / img.clusterSize);
  const top = maxKey(refs);
  if (top >= fileClusters) {
    throw corrupt(img.path, `cluster ${top} is referenced but lies past the end of the file; cannot repair`);
  }
  const fresh = Refcounts.empty(img.file, img.clusterBits, img.header.refcountOrder);
  fresh.endCluster = fileClusters;
  for (const [c, n] of [...refs.entries()].sort((a, b) => a[0] - b[0])) fresh.adjust(c, n);
  const moved = await fresh.flushIncrements();
  img.refcounts = fresh;
  if (moved) {
    img.header.refcountTableOffset = moved.offset;
    img.header.refcountTableClusters = moved.clusters;
    await img.writeHeader();
    await img.file.sync();
  }
  await copiedFlagProblems(img, true);
  await img.flushMetadata();
}

function maxKey(m: Map<number, number>): number {
  let top = 0;
  for (const k of m.keys()) if (k > top) top = k;
  return top;
}
