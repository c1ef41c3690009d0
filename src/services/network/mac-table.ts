/**
 * The forwarding database of a learning switch (802.1Q-2018 clause 8.8): which port a source MAC was last seen
 * on, per VLAN, forgotten after an aging time (default 300 s, the 802.1Q recommended value) and bounded in size
 * so that a guest sending random source MACs cannot grow memory: when full, the least recently refreshed entry
 * gives way.
 */

import type { MacNum } from './ethernet.js';

/** Options of a MacTable. */
export interface MacTableOptions {
  /** Seconds after which an entry not refreshed is forgotten (default 300). */
  agingSeconds?: number;
  /** Most entries held across all VLANs (default 8192). */
  capacity?: number;
  /** Clock in milliseconds (default `performance.now`), replaceable in tests. */
  now?: () => number;
}

interface Entry {
  port: number;
  seen: number;
}

/** A bounded MAC learning table with aging. */
export class MacTable {
  private readonly byVlan = new Map<number, Map<MacNum, Entry>>();
  /** Insertion-ordered index over all entries, oldest refresh first, for eviction. */
  private readonly order = new Map<string, { vlan: number; mac: MacNum }>();
  private readonly agingMs: number;
  private readonly capacity: number;
  private readonly now: () => number;
  private lastSweep = 0;

  constructor(opts: MacTableOptions = {}) {
    this.agingMs = (opts.agingSeconds ?? 300) * 1000;
    this.capacity = opts.capacity ?? 8192;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Number of entries currently held (aged entries may linger until the next sweep). */
  get size(): number {
    return this.order.size;
  }

  /** Records that `mac` was seen on `port` in `vlan`. */
  learn(vlan: number, mac: MacNum, port: number): void {
    const t = this.now();
    let table = this.byVlan.get(vlan);
    if (!table) {
      table = new Map();
      this.byVlan.set(vlan, table);
    }
    const e = table.get(mac);
    if (e) {
      // Refresh: cheap path for the common case of a known host on the same port, rate-limited reordering.
      if (e.port === port && t - e.seen < 1000) return;
      e.port = port;
      e.seen = t;
      const k = `${vlan}/${mac}`;
      this.order.delete(k);
      this.order.set(k, { vlan, mac });
      return;
    }
    if (this.order.size >= this.capacity) {
      this.sweep(t);
      if (this.order.size >= this.capacity) {
        const oldest = this.order.entries().next().value;
        if (oldest) this.remove(oldest[1].vlan, oldest[1].mac);
      }
    }
    table.set(mac, { port, seen: t });
    this.order.set(`${vlan}/${mac}`, { vlan, mac });
  }

  /** The port `mac` was learned on in `vlan`, or undefined when unknown or aged out. */
  lookup(vlan: number, mac: MacNum): number | undefined {
    const e = this.byVlan.get(vlan)?.get(mac);
    if (!e) return undefined;
    const t = this.now();
    if (t - e.seen > this.agingMs) {
      this.remove(vlan, mac);
      return undefined;
    }
    if (t - this.lastSweep > this.agingMs) this.sweep(t);
    return e.port;
  }

  /** Forgets every entry learned on `port` (the port went down or was removed). */
  flushPort(port: number): void {
    for (const [vlan, table] of this.byVlan) {
      for (const [mac, e] of table) if (e.port === port) this.remove(vlan, mac);
    }
  }

  /** Forgets everything. */
  clear(): void {
    this.byVlan.clear();
    this.order.clear();
  }

  /** All live entries, for display. */
  entries(): Array<{ vlan: number; mac: MacNum; port: number; ageSeconds: number }> {
    const t = this.now();
    const out: Array<{ vlan: number; mac: MacNum; port: number; ageSeconds: number }> = [];
    for (const [vlan, table] of this.byVlan) {
      for (const [mac, e] of table) {
        if (t - e.seen <= this.agingMs) out.push({ vlan, mac, port: e.port, ageSeconds: (t - e.seen) / 1000 });
      }
    }
    return out;
  }

  /** Drops every aged entry. */
  sweep(t = this.now()): void {
    this.lastSweep = t;
    for (const [vlan, table] of this.byVlan) {
      for (const [mac, e] of table) if (t - e.seen > this.agingMs) this.remove(vlan, mac);
    }
  }

  private remove(vlan: number, mac: MacNum): void {
    const table = this.byVlan.get(vlan);
    table?.delete(mac);
    if (table && table.size === 0) this.byVlan.delete(vlan);
    this.order.delete(`${vlan}/${mac}`);
  }
}
