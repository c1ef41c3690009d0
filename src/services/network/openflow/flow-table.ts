/**
 * OpenFlow flow tables (spec 5.2-5.5, 6.4): entries with a match, a priority, instructions, a cookie,
 * idle and hard timeouts, flags and counters; the FLOW_MOD semantics of add / modify / delete and their strict
 * variants; lookup of the highest-priority matching entry.
 */

import { and48, type Instruction, type Match, type MatchField, OfError } from './codec.js';
import { OFPET, OFPFF, OFPFMFC, OFPP, OXM_INFO } from './constants.js';
import type { PacketKey } from './packet-key.js';

/** One flow entry. */
export interface FlowEntry {
  tableId: number;
  priority: number;
  match: Match;
  instructions: Instruction[];
  cookie: bigint;
  idleTimeout: number;
  hardTimeout: number;
  flags: number;
  /** performance.now() ms at install. */
  installedMs: number;
  /** performance.now() ms of the last packet (or install). */
  lastUsedMs: number;
  packetCount: number;
  byteCount: number;
}

/** The fields of a FLOW_MOD (ofp_flow_mod, spec 7.3.4.1) that the table needs. */
export interface FlowMod {
  cookie: bigint;
  cookieMask: bigint;
  tableId: number;
  command: number;
  idleTimeout: number;
  hardTimeout: number;
  priority: number;
  bufferId: number;
  outPort: number;
  outGroup: number;
  flags: number;
  match: Match;
  instructions: Instruction[];
}

/** Whether a packet with `key` satisfies `match`. */
export function matches(match: Match, key: PacketKey): boolean {
  for (let i = 0; i < match.length; i++) {
    const f = match[i]!;
    const v = key[f.field];
    if (v === undefined) return false;
    if (f.mask === undefined ? v !== f.value : and48(v, f.mask) !== f.value) return false;
  }
  return true;
}

function fieldMask(f: MatchField): number {
  return f.mask ?? 2 ** (OXM_INFO.get(f.field)!.bytes * 8) - 1;
}

/**
 * True when every packet matching `specific` also matches `general` ("the entry is covered by the request", used
 * by non-strict modify and delete, spec 6.4).
 */
export function covers(general: Match, specific: Match): boolean {
  for (const g of general) {
    const s = specific.find((x) => x.field === g.field);
    if (!s) return false;
    const gm = fieldMask(g);
    const sm = fieldMask(s);
    if (and48(sm, gm) !== gm) return false;
    if (and48(s.value, gm) !== g.value) return false;
  }
  return true;
}

/** Identical matches (strict variants, spec 6.4). */
export function sameMatch(a: Match, b: Match): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.field !== y.field || x.value !== y.value || (x.mask ?? -1) !== (y.mask ?? -1)) return false;
  }
  return true;
}

/** True when some packet could match both (CHECK_OVERLAP, spec 6.4). */
export function overlaps(a: Match, b: Match): boolean {
  for (const x of a) {
    const y = b.find((f) => f.field === x.field);
    if (!y) continue;
    const m = and48(fieldMask(x), fieldMask(y));
    if (and48(x.value, m) !== and48(y.value, m)) return false;
  }
  return true;
}

/** True when the entry's instructions output to `port` (the out_port filter of delete and stats). */
export function outputsTo(e: FlowEntry, port: number): boolean {
  if (port === OFPP.ANY) return true;
  for (const i of e.instructions) {
    if (i.type !== 'apply_actions' && i.type !== 'write_actions') continue;
    for (const a of i.actions) if (a.type === 'output' && a.port === port) return true;
  }
  return false;
}

/** True when the entry passes a cookie filter (cookie_mask 0 passes everything). */
export function cookieOk(e: FlowEntry, cookie: bigint, mask: bigint): boolean {
  return (e.cookie & mask) === (cookie & mask);
}

/** A single flow table. Entries are kept sorted by descending priority, then by install order. */
export class FlowTable {
  /** Entries, highest priority first. */
  readonly entries: FlowEntry[] = [];
  /** Packets looked up in this table (ofp_table_stats.lookup_count). */
  lookupCount = 0;
  /** Packets that matched an entry (matched_count). */
  matchedCount = 0;

  constructor(
    readonly id: number,
    readonly maxEntries = 65536,
  ) {}

  /**
   * The highest-priority entry matching the packet, counted in the table stats. `key` is called only when an
   * entry with a non-empty match is reached (a table holding just a table-miss entry never parses the packet).
   */
  lookup(key: () => PacketKey): FlowEntry | undefined {
    this.lookupCount++;
    const es = this.entries;
    let k: PacketKey | undefined;
    for (let i = 0; i < es.length; i++) {
      const e = es[i]!;
      if (e.match.length > 0 && k === undefined) k = key();
      if (e.match.length === 0 || matches(e.match, k!)) {
        this.matchedCount++;
        return e;
      }
    }
    return undefined;
  }

  /**
   * OFPFC_ADD (spec 6.4): with CHECK_OVERLAP an overlapping entry of the same priority is an OFPFMFC_OVERLAP
   * error; an identical entry (same match and priority) is replaced, keeping its counters unless RESET_COUNTS.
   */
  add(mod: FlowMod, now: number): FlowEntry {
    if (mod.flags & OFPFF.CHECK_OVERLAP) {
      for (const e of this.entries) {
        if (e.priority === mod.priority && overlaps(e.match, mod.match))
          throw new OfError(OFPET.FLOW_MOD_FAILED, OFPFMFC.OVERLAP, 'overlapping entry');
      }
    }
    const entry: FlowEntry = {
      tableId: this.id,
      priority: mod.priority,
      match: mod.match,
      instructions: mod.instructions,
      cookie: mod.cookie,
      idleTimeout: mod.idleTimeout,
      hardTimeout: mod.hardTimeout,
      flags: mod.flags,
      installedMs: now,
      lastUsedMs: now,
      packetCount: 0,
      byteCount: 0,
    };
    const same = this.entries.findIndex((e) => e.priority === mod.priority && sameMatch(e.match, mod.match));
    if (same >= 0) {
      const old = this.entries[same]!;
      if (!(mod.flags & OFPFF.RESET_COUNTS)) {
        entry.packetCount = old.packetCount;
        entry.byteCount = old.byteCount;
      }
      this.entries[same] = entry;
      return entry;
    }
    if (this.entries.length >= this.maxEntries)
      throw new OfError(OFPET.FLOW_MOD_FAILED, OFPFMFC.TABLE_FULL, 'flow table full');
    let i = 0;
    while (i < this.entries.length && this.entries[i]!.priority >= mod.priority) i++;
    this.entries.splice(i, 0, entry);
    return entry;
  }

  /** The entries a modify or delete request selects (spec 6.4: strict = same match and priority). */
  select(mod: Pick<FlowMod, 'match' | 'priority' | 'cookie' | 'cookieMask' | 'outPort'>, strict: boolean): FlowEntry[] {
    return this.entries.filter(
      (e) =>
        (strict ? e.priority === mod.priority && sameMatch(e.match, mod.match) : covers(mod.match, e.match)) &&
        cookieOk(e, mod.cookie, mod.cookieMask) &&
        outputsTo(e, mod.outPort),
    );
  }

  /** OFPFC_MODIFY[_STRICT]: replaces the instructions of the selected entries; counters kept unless RESET_COUNTS. */
  modify(mod: FlowMod, strict: boolean): number {
    const sel = this.select({ ...mod, outPort: OFPP.ANY }, strict);
    for (const e of sel) {
      e.instructions = mod.instructions;
      if (mod.flags & OFPFF.RESET_COUNTS) {
        e.packetCount = 0;
        e.byteCount = 0;
      }
    }
    return sel.length;
  }

  /** Removes the given entries. */
  remove(victims: FlowEntry[]): void {
    if (victims.length === 0) return;
    const set = new Set(victims);
    let j = 0;
    for (const e of this.entries) if (!set.has(e)) this.entries[j++] = e;
    this.entries.length = j;
  }

  /** Entries whose idle or hard timeout has passed at `now`, with the reason (0 idle, 1 hard). */
  expired(now: number): Array<{ entry: FlowEntry; reason: number }> {
    const out: Array<{ entry: FlowEntry; reason: number }> = [];
    for (const e of this.entries) {
      if (e.hardTimeout > 0 && now - e.installedMs >= e.hardTimeout * 1000) out.push({ entry: e, reason: 1 });
      else if (e.idleTimeout > 0 && now - e.lastUsedMs >= e.idleTimeout * 1000) out.push({ entry: e, reason: 0 });
    }
    return out;
  }
}
