/**
 * The VMM protocol: how the daemon drives one `strata vmm` process over its Unix socket. Newline-delimited JSON,
 * one message per line. The daemon sends requests with an `id`; the VMM answers each with a response carrying the
 * same `id`, and pushes events (state changes, console output) to every connected client. Console bytes travel as
 * base64. The VMM keeps running when its clients disconnect, so a restarted daemon can connect again.
 */

import { StrataError, type StrataErrorCode } from '../base/errors.js';

/** Version of this protocol; the VMM states it in its `hello` event and the client refuses another. */
export const VMM_PROTOCOL_VERSION = 1;

/** Rate limits the VMM enforces with token buckets (0 or absent: unlimited). */
export interface VmmRateLimits {
  diskIops?: number;
  diskBytesPerSec?: number;
  nicBytesPerSec?: number;
}

/** One network card of a VM: the network whose switch it joins, and how. */
export interface VmmNicConfig {
  /** Network name (a definition in `$STRATA_HOME/networks`). */
  network: string;
  /** The Strata home holding that network's definition and run folder. */
  home: string;
  /** Name of the switch port (shown by `strata network show`). */
  port: string;
  /** The guest's MAC, six colon-separated hex pairs (absent: a random one). */
  mac?: string | undefined;
}

/** What the VMM boots: the definition the daemon starts it with, changeable before boot by `configure`. */
export interface VmmBootConfig {
  /** Instance name (for logs and the process title). */
  name: string;
  memoryBytes: number;
  cpus: number;
  /** Paths of the boot files on the host. */
  kernelPath: string;
  initrdPath?: string | undefined;
  firmwarePath?: string | undefined;
  cmdline: string;
  /** The instance's root disk (raw), when it has one. */
  diskPath?: string | undefined;
  /** Network cards, attached as virtio-net devices (absent: none). */
  nics?: VmmNicConfig[] | undefined;
  limits: VmmRateLimits;
}

/** The VMM's own view of its VM. `configured` is pre-boot; `exited` means the guest is gone for good. */
export type VmmState = 'configured' | 'running' | 'paused' | 'exited';

/** How the guest ended, once it has. */
export interface VmmExit {
  /** `poweroff` and `stopped` are clean; the others are failures. */
  kind: 'poweroff' | 'stopped' | 'reset' | 'fail' | 'fault' | 'error';
  /** One line for people. */
  reason: string;
}

/** Figures the VMM reports about itself. */
export interface VmmStats {
  state: VmmState;
  pid: number;
  /** Guest RAM, the hard cap the VMM allocated. */
  guestMemoryBytes: number;
  /** Resident memory of the VMM process. */
  rssBytes: number;
  /** CPU time of the VMM process, user plus system. */
  cpuSeconds: number;
  diskReadBytes: number;
  diskWriteBytes: number;
  diskReadOps: number;
  diskWriteOps: number;
  nicRxBytes: number;
  nicTxBytes: number;
  /** Frames the NICs received (absent: the engine does not count them). */
  nicRxPackets?: number | undefined;
  /** Frames the NICs sent (absent: the engine does not count them). */
  nicTxPackets?: number | undefined;
  consoleBytes: number;
}

/** A request from the daemon. */
export type VmmRequest =
  | { id: number; op: 'configure'; config: Partial<Omit<VmmBootConfig, 'name'>> }
  | { id: number; op: 'start' }
  | { id: number; op: 'pause' }
  | { id: number; op: 'resume' }
  | { id: number; op: 'stop'; force: boolean }
  | { id: number; op: 'state' }
  | { id: number; op: 'stats' }
  | { id: number; op: 'console.subscribe' }
  | { id: number; op: 'console.input'; data: string }
  | { id: number; op: 'shutdown' };

/** The operation names of requests. */
export type VmmOp = VmmRequest['op'];

/** The answer to one request. */
export type VmmResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { code: StrataErrorCode; message: string } };

/** What `state` answers. */
export interface VmmStateReply {
  state: VmmState;
  pid: number;
  config: VmmBootConfig;
  startedAt?: string | undefined;
  exit?: VmmExit | undefined;
}

/** What `console.subscribe` answers: the kept console history (base64), after which live output follows. */
export interface VmmConsoleReply {
  history: string;
}

/** Events the VMM pushes to every client. */
export type VmmEvent =
  | { event: 'hello'; version: number; pid: number; name: string }
  | { event: 'state'; state: VmmState; exit?: VmmExit | undefined }
  | { event: 'console'; data: string };

/** Any message on the wire. */
export type VmmMessage = VmmRequest | VmmResponse | VmmEvent;

/** Longest line either side accepts; a longer one is a protocol error (guards memory). */
export const VMM_MAX_LINE_BYTES = 4 * 1024 * 1024;

/** Encodes one message as a line. */
export function encodeVmmMessage(msg: VmmMessage): string {
  return `${JSON.stringify(msg)}\n`;
}

/**
 * Splits a byte stream into messages. Feed it chunks as they arrive; it returns the complete messages parsed so
 * far. Throws INVALID_ARGUMENT on a line that is not a JSON object or is longer than {@link VMM_MAX_LINE_BYTES}.
 */
export class VmmLineDecoder {
  private buffered = '';

  /** Adds a chunk and returns the messages it completed. */
  feed(chunk: string): unknown[] {
    this.buffered += chunk;
    const out: unknown[] = [];
    for (;;) {
      const nl = this.buffered.indexOf('\n');
      if (nl < 0) break;
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (line.trim() === '') continue;
      out.push(parseLine(line));
    }
    if (this.buffered.length > VMM_MAX_LINE_BYTES) {
      throw new StrataError('INVALID_ARGUMENT', `VMM protocol line longer than ${VMM_MAX_LINE_BYTES} bytes`);
    }
    return out;
  }
}

function parseLine(line: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new StrataError('INVALID_ARGUMENT', `VMM protocol line is not JSON: ${line.slice(0, 80)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new StrataError('INVALID_ARGUMENT', `VMM protocol line is not an object: ${line.slice(0, 80)}`);
  }
  return value;
}

/** Every request op, for validation on the VMM side. */
export const VMM_OPS: readonly VmmOp[] = [
  'configure',
  'start',
  'pause',
  'resume',
  'stop',
  'state',
  'stats',
  'console.subscribe',
  'console.input',
  'shutdown',
];

/** Checks that a parsed line is a request the VMM understands; INVALID_ARGUMENT naming the problem otherwise. */
export function asVmmRequest(value: unknown): VmmRequest {
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.id)) throw new StrataError('INVALID_ARGUMENT', "VMM request without a numeric 'id'");
  if (typeof v.op !== 'string' || !(VMM_OPS as readonly string[]).includes(v.op)) {
    throw new StrataError('INVALID_ARGUMENT', `unknown VMM request op '${String(v.op)}'`);
  }
  if (v.op === 'console.input' && typeof v.data !== 'string') {
    throw new StrataError('INVALID_ARGUMENT', "console.input needs base64 'data'");
  }
  if (v.op === 'configure' && (typeof v.config !== 'object' || v.config === null)) {
    throw new StrataError('INVALID_ARGUMENT', "configure needs a 'config' object");
  }
  if (v.op === 'stop' && typeof v.force !== 'boolean') v.force = false;
  return v as unknown as VmmRequest;
}
