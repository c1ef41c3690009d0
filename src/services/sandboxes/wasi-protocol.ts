/**
 * What passes between a sandbox's parent and its worker thread: the start data, the messages the worker posts,
 * and the stdin ring in shared memory (one writer: the parent; one reader: the worker).
 */

/** How the worker is started (`workerData`). */
export interface SandboxWorkerData {
  /** The compiled module (memory limits already capped). */
  module: WebAssembly.Module;
  args: string[];
  env: Record<string, string>;
  /** The host folder preopened as the module's `/`. */
  dir: string;
  /** The stdin ring (StdinRing over it). */
  stdin: SharedArrayBuffer;
  /** When the module imports its memory: the import's names and the limits to create it with. */
  memoryImport?: { module: string; name: string; initial: number; maximum: number } | undefined;
  /**
   * One Int32 slot the worker keeps at the size of the module's linear memory in 64 KiB pages: set at start and
   * at every WASI call (a module that computes without calling WASI shows the size of its last call).
   */
  memoryPages?: SharedArrayBuffer | undefined;
}

/** Messages from the worker. */
export type WorkerToParent =
  | { t: 'tid'; tid: number }
  | { t: 'fd'; fd: number }
  | { t: 'out'; fd: number; data: Uint8Array }
  | { t: 'exit'; code: number }
  | { t: 'trap'; kind: 'trap' | 'error'; message: string };

/** Int32 slots at the start of the ring: write position, read position, end-of-input flag, change counter. */
export const STDIN_CTRL_INTS = 4;
/** Bytes of the ring's data part. A power of two, so positions wrap cleanly at 2^32. */
export const STDIN_RING_BYTES = 64 * 1024;

/**
 * A single-producer single-consumer byte ring in a SharedArrayBuffer. Positions are free-running 32-bit counters;
 * the change counter (slot 3) is bumped on every write and at end of input, and is what the reader waits on, so a
 * wake-up is never lost between its check and its wait.
 */
export class StdinRing {
  private readonly ctrl: Int32Array;
  private readonly buf: Uint8Array;

  /** A new shared buffer for a ring. */
  static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(STDIN_CTRL_INTS * 4 + STDIN_RING_BYTES);
  }

  constructor(
    sab: SharedArrayBuffer,
    readonly writer: boolean,
  ) {
    this.ctrl = new Int32Array(sab, 0, STDIN_CTRL_INTS);
    this.buf = new Uint8Array(sab, STDIN_CTRL_INTS * 4, STDIN_RING_BYTES);
  }

  /** Writer: copies as much of `bytes` as fits; returns how many bytes were taken. */
  write(bytes: Uint8Array): number {
    const w = Atomics.load(this.ctrl, 0);
    const r = Atomics.load(this.ctrl, 1);
    const free = STDIN_RING_BYTES - ((w - r) | 0);
    const n = Math.min(free, bytes.length);
    for (let i = 0; i < n; i++) this.buf[((w + i) >>> 0) % STDIN_RING_BYTES] = bytes[i] as number;
    if (n > 0) {
      Atomics.store(this.ctrl, 0, (w + n) | 0);
      Atomics.add(this.ctrl, 3, 1);
      Atomics.notify(this.ctrl, 3);
    }
    return n;
  }

  /** Writer: no more input (the reader then gets 0 bytes once the ring is empty). */
  close(): void {
    Atomics.store(this.ctrl, 2, 1);
    Atomics.add(this.ctrl, 3, 1);
    Atomics.notify(this.ctrl, 3);
  }

  /**
   * Reader: fills `into` with up to its length in bytes; waits for input when `block` and the ring is empty.
   * Returns 0 at end of input (or when not blocking and nothing is there).
   */
  read(into: Uint8Array, block: boolean): number {
    for (;;) {
      const seq = Atomics.load(this.ctrl, 3);
      const w = Atomics.load(this.ctrl, 0);
      const r = Atomics.load(this.ctrl, 1);
      const avail = (w - r) | 0;
      if (avail > 0) {
        const n = Math.min(avail, into.length);
        for (let i = 0; i < n; i++) into[i] = this.buf[((r + i) >>> 0) % STDIN_RING_BYTES] as number;
        Atomics.store(this.ctrl, 1, (r + n) | 0);
        return n;
      }
      if (!block || Atomics.load(this.ctrl, 2) === 1) return 0;
      Atomics.wait(this.ctrl, 3, seq);
    }
  }
}
