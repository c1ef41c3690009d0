/**
 * The OpenFlow pipeline (spec 5.1, 5.7-5.10): several flow tables, instructions (apply, write, clear actions,
 * goto-table), the action set executed at the end, and outputs to ports and reserved ports. It is installed as
 * the switch's datapath; its NORMAL output hands the frame to the learning switch.
 *
 * Without a controller the switch must behave as a learning switch, so table 0 starts with a table-miss entry
 * (priority 0, empty match) whose action is output:NORMAL (the "standalone" behaviour of spec 6.3.6). A
 * controller that wants a different miss behaviour replaces or deletes that entry like any other.
 */

import { popVlan, pushVlan } from '../ethernet.js';
import type { SwitchPort } from '../port.js';
import type { VirtualSwitch } from '../virtual-switch.js';
import { type Action, type Instruction, OfError } from './codec.js';
import {
  OFP_NO_BUFFER,
  OFPBIC,
  OFPBRC,
  OFPET,
  OFPFC,
  OFPFF,
  OFPFMFC,
  OFPP,
  OFPR,
  OFPRR,
  OFPTT_ALL,
} from './constants.js';
import { type FlowEntry, type FlowMod, FlowTable } from './flow-table.js';
import { decNwTtl, isIpv4Fragment, packetKey, setField } from './packet-key.js';

/** What the pipeline reports to the controllers. */
export interface PipelineEvents {
  /** A packet for the controller (output:CONTROLLER). */
  packetIn(p: {
    data: Uint8Array;
    inPort: number;
    reason: number;
    tableId: number;
    cookie: bigint;
    maxLen: number;
  }): void;
  /** An entry left a table (timeout or delete) with SEND_FLOW_REM set. */
  flowRemoved(e: FlowEntry, reason: number): void;
}

/** Options of a Pipeline. */
export interface PipelineOptions {
  /** Number of flow tables (default 8). */
  tables?: number;
  /** Entries per table (default 65536). */
  maxEntries?: number;
  /** Clock in ms (default performance.now). */
  now?: () => number;
  /** Install the table-miss NORMAL entry in table 0 (default true). */
  standalone?: boolean;
}

/** Multi-table OpenFlow pipeline bound to a switch. */
export class Pipeline {
  readonly tables: FlowTable[];
  /** Frames dropped because goto-table chains or outputs were invalid at run time. */
  dropped = 0;
  /**
   * OFPC_FRAG_DROP of the switch configuration (spec 7.3.2): IP fragments are dropped before the tables. Off, the
   * switch does OFPC_FRAG_NORMAL: fragments go through the tables, and a non-first fragment has no L4 fields.
   */
  fragDrop = false;
  private readonly now: () => number;

  constructor(
    private readonly sw: VirtualSwitch,
    private readonly events: PipelineEvents,
    opts: PipelineOptions = {},
  ) {
    const n = opts.tables ?? 8;
    this.tables = Array.from({ length: n }, (_, i) => new FlowTable(i, opts.maxEntries));
    this.now = opts.now ?? (() => performance.now());
    if (opts.standalone ?? true) this.installTableMissNormal();
  }

  /** Adds the table-miss entry of table 0 that sends everything to NORMAL. */
  installTableMissNormal(): void {
    this.tables[0]!.add(
      {
        cookie: 0n,
        cookieMask: 0n,
        tableId: 0,
        command: OFPFC.ADD,
        idleTimeout: 0,
        hardTimeout: 0,
        priority: 0,
        bufferId: OFP_NO_BUFFER,
        outPort: OFPP.ANY,
        outGroup: 0xffffffff,
        flags: 0,
        match: [],
        instructions: [{ type: 'apply_actions', actions: [{ type: 'output', port: OFPP.NORMAL, maxLen: 0 }] }],
      },
      this.now(),
    );
  }

  /** The datapath function to give to `VirtualSwitch.setDatapath`. */
  readonly datapath = (inPort: SwitchPort, frame: Uint8Array): void => {
    this.run(frame, inPort.no, 0);
  };

  /**
   * Runs `frame` received on `inPort` through the tables from `startTable` (spec 5.1): per table the best entry's
   * instructions, then at the end the action set in the order of spec 5.10.
   */
  run(frame: Uint8Array, inPort: number, startTable: number): void {
    if (this.fragDrop && isIpv4Fragment(frame)) {
      this.dropped++;
      return;
    }
    const st = { pkt: frame, owned: false };
    let actionSet: Map<string, Action> | undefined;
    let tableId = startTable;
    for (;;) {
      const table = this.tables[tableId];
      if (!table) {
        this.dropped++;
        return;
      }
      const pkt = st.pkt;
      const entry = table.lookup(() => packetKey(pkt, inPort));
      if (!entry) return; // no table-miss entry: drop (spec 5.4)
      if (entry.idleTimeout > 0) entry.lastUsedMs = this.now();
      entry.packetCount++;
      entry.byteCount += st.pkt.length;
      const miss = entry.priority === 0 && entry.match.length === 0;
      let next: number | undefined;
      for (const ins of entry.instructions) {
        switch (ins.type) {
          case 'apply_actions':
            if (!this.execute(ins.actions, st, inPort, tableId, entry.cookie, miss)) return;
            break;
          case 'clear_actions':
            actionSet?.clear();
            break;
          case 'write_actions':
            actionSet ??= new Map();
            for (const a of ins.actions) actionSet.set(a.type === 'set_field' ? `set_field:${a.field}` : a.type, a);
            break;
          case 'goto_table':
            next = ins.table;
            break;
        }
      }
      if (next !== undefined && next > tableId) {
        tableId = next;
        continue;
      }
      if (actionSet && actionSet.size > 0) {
        // Spec 5.10: pop, push-VLAN, decrement TTL, set-field, then output.
        const ordered: Action[] = [];
        for (const k of ['pop_vlan', 'push_vlan', 'dec_nw_ttl']) {
          const a = actionSet.get(k);
          if (a) ordered.push(a);
        }
        for (const [k, a] of actionSet) if (k.startsWith('set_field:')) ordered.push(a);
        const out = actionSet.get('output');
        if (out) ordered.push(out);
        this.execute(ordered, st, inPort, tableId, entry.cookie, miss);
      }
      return;
    }
  }

  /** PACKET_OUT (spec 7.3.7): applies `actions` to `data` as if received on `inPort` (a port or CONTROLLER). */
  packetOut(data: Uint8Array, inPort: number, actions: Action[]): void {
    this.execute(actions, { pkt: data, owned: false }, inPort, 0, 0n, false, true);
  }

  /** Applies a FLOW_MOD (spec 6.4); throws OfError for a bad table, command or goto. */
  flowMod(mod: FlowMod): void {
    const t = this.now();
    const n = this.tables.length;
    const del = mod.command === OFPFC.DELETE || mod.command === OFPFC.DELETE_STRICT;
    if (mod.command > OFPFC.DELETE_STRICT) throw new OfError(OFPET.FLOW_MOD_FAILED, OFPFMFC.BAD_COMMAND);
    if (!(del && mod.tableId === OFPTT_ALL) && mod.tableId >= n)
      throw new OfError(OFPET.FLOW_MOD_FAILED, OFPFMFC.BAD_TABLE_ID, `table ${mod.tableId}`);
    if (!del) {
      for (const ins of mod.instructions) {
        if (ins.type === 'goto_table' && (ins.table <= mod.tableId || ins.table >= n))
          throw new OfError(OFPET.BAD_INSTRUCTION, OFPBIC.BAD_TABLE_ID, `goto_table ${ins.table} from ${mod.tableId}`);
        if (ins.type === 'apply_actions' || ins.type === 'write_actions') {
          for (const a of ins.actions) {
            if (a.type === 'output' && a.port === OFPP.TABLE)
              throw new OfError(OFPET.BAD_ACTION, 4 /* OFPBAC_BAD_OUT_PORT */, 'output:TABLE only in packet-out');
          }
        }
      }
    }
    switch (mod.command) {
      case OFPFC.ADD:
        this.tables[mod.tableId]!.add(mod, t);
        break;
      case OFPFC.MODIFY:
      case OFPFC.MODIFY_STRICT:
        this.tables[mod.tableId]!.modify(mod, mod.command === OFPFC.MODIFY_STRICT);
        break;
      default: {
        const strict = mod.command === OFPFC.DELETE_STRICT;
        const tables = mod.tableId === OFPTT_ALL ? this.tables : [this.tables[mod.tableId]!];
        for (const tb of tables) {
          const victims = tb.select(mod, strict);
          tb.remove(victims);
          for (const v of victims) if (v.flags & OFPFF.SEND_FLOW_REM) this.events.flowRemoved(v, OFPRR.DELETE);
        }
      }
    }
    if (mod.bufferId !== OFP_NO_BUFFER && !del)
      throw new OfError(
        OFPET.BAD_REQUEST,
        OFPBRC.BUFFER_UNKNOWN,
        `buffer ${mod.bufferId} (this switch buffers nothing)`,
      );
  }

  /** Removes entries whose timeouts passed, reporting those with SEND_FLOW_REM (spec 5.5). */
  expire(): void {
    const t = this.now();
    for (const tb of this.tables) {
      const ex = tb.expired(t);
      if (ex.length === 0) continue;
      tb.remove(ex.map((x) => x.entry));
      for (const { entry, reason } of ex) {
        if (entry.flags & OFPFF.SEND_FLOW_REM)
          this.events.flowRemoved(entry, reason === 0 ? OFPRR.IDLE_TIMEOUT : OFPRR.HARD_TIMEOUT);
      }
    }
  }

  /** Runs an action list on the packet state; false when the packet was dropped (TTL expired). */
  private execute(
    actions: Action[],
    st: { pkt: Uint8Array; owned: boolean },
    inPort: number,
    tableId: number,
    cookie: bigint,
    miss: boolean,
    packetOut = false,
  ): boolean {
    for (const a of actions) {
      switch (a.type) {
        case 'output':
          this.output(a.port, a.maxLen, st.pkt, inPort, tableId, cookie, miss, packetOut);
          st.owned = false; // the frame may now be held by a port: copy before the next rewrite
          break;
        case 'push_vlan': {
          // Spec 7.2.5: a new tag copies the VID and PCP of an existing outer tag, else they are zero.
          const tci =
            st.pkt.length >= 18 && st.pkt[12] === 0x81 && st.pkt[13] === 0 ? (st.pkt[14]! << 8) | st.pkt[15]! : 0;
          st.pkt = pushVlan(st.pkt, tci & 0xfff, tci >>> 13, a.ethertype);
          st.owned = true;
          break;
        }
        case 'pop_vlan':
          st.pkt = popVlan(st.pkt);
          st.owned = true;
          break;
        case 'set_field':
          if (!st.owned) {
            st.pkt = st.pkt.slice();
            st.owned = true;
          }
          setField(st.pkt, a.field, a.value);
          break;
        case 'dec_nw_ttl':
          if (!st.owned) {
            st.pkt = st.pkt.slice();
            st.owned = true;
          }
          if (!decNwTtl(st.pkt)) return false;
          break;
      }
    }
    return true;
  }

  private output(
    port: number,
    maxLen: number,
    pkt: Uint8Array,
    inPort: number,
    tableId: number,
    cookie: bigint,
    miss: boolean,
    packetOut: boolean,
  ): void {
    const sw = this.sw;
    const inP = sw.port(inPort);
    if (port <= OFPP.MAX) {
      const out = sw.port(port);
      if (!out || port === inPort) {
        this.dropped++; // spec 7.2.5: sending back to the ingress port needs OFPP_IN_PORT
        return;
      }
      sw.transmit(out, pkt);
      return;
    }
    switch (port) {
      case OFPP.IN_PORT:
        if (inP) sw.transmit(inP, pkt);
        return;
      case OFPP.FLOOD:
      case OFPP.ALL:
        for (const p of sw.ports()) if (p.no !== inPort && (port === OFPP.ALL || p.up)) sw.transmit(p, pkt);
        return;
      case OFPP.NORMAL:
        if (inP) sw.normal(inP, pkt);
        else for (const p of sw.ports()) if (p.up) sw.transmit(p, pkt);
        return;
      case OFPP.CONTROLLER:
        this.events.packetIn({
          data: pkt,
          inPort,
          reason: miss ? OFPR.NO_MATCH : OFPR.ACTION,
          tableId,
          cookie,
          maxLen,
        });
        return;
      case OFPP.TABLE:
        if (packetOut) this.run(pkt, inPort, 0);
        return;
      default:
        this.dropped++; // LOCAL: this switch has no local port
    }
  }
}

/** Entries of every table, for display and stats. */
export function allEntries(p: Pipeline, tableId = OFPTT_ALL): FlowEntry[] {
  return tableId === OFPTT_ALL ? p.tables.flatMap((t) => t.entries) : (p.tables[tableId]?.entries ?? []);
}

/** Convenience: an apply_actions instruction. */
export function apply(...actions: Action[]): Instruction {
  return { type: 'apply_actions', actions };
}
