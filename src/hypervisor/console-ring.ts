/** How much console output a VM keeps for late viewers. */
export const CONSOLE_HISTORY_BYTES = 1024 * 1024;

/**
 * The last `capacityBytes` of a byte stream (a VM's serial console output), so a viewer who connects late still
 * sees the boot log. Appending is O(chunk); older bytes are overwritten in place.
 */
export class ConsoleRing {
  private readonly buf: Uint8Array;
  private start = 0;
  private length = 0;
  /** Bytes appended since the ring was made (a counter for metrics). */
  totalBytes = 0;

  constructor(readonly capacityBytes = CONSOLE_HISTORY_BYTES) {
    this.buf = new Uint8Array(capacityBytes);
  }

  /** Appends bytes; when full, the oldest bytes are dropped. */
  append(bytes: Uint8Array): void {
    this.totalBytes += bytes.length;
    const cap = this.capacityBytes;
    let src = bytes;
    if (src.length >= cap) {
      src = src.subarray(src.length - cap);
      this.buf.set(src);
      this.start = 0;
      this.length = cap;
      return;
    }
    let end = (this.start + this.length) % cap;
    const first = Math.min(src.length, cap - end);
    this.buf.set(src.subarray(0, first), end);
    if (first < src.length) this.buf.set(src.subarray(first), 0);
    end = (end + src.length) % cap;
    const newLength = this.length + src.length;
    if (newLength > cap) {
      this.start = end;
      this.length = cap;
    } else {
      this.length = newLength;
    }
  }

  /** The kept bytes, oldest first (a copy). */
  snapshot(): Uint8Array {
    const out = new Uint8Array(this.length);
    const cap = this.capacityBytes;
    const first = Math.min(this.length, cap - this.start);
    out.set(this.buf.subarray(this.start, this.start + first));
    if (first < this.length) out.set(this.buf.subarray(0, this.length - first), first);
    return out;
  }
}
