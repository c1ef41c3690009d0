/**
 * Writes a classic libpcap capture file (the format tcpdump and tshark read): a 24-byte global header
 * (magic 0xa1b2c3d4, version 2.4, snaplen, LINKTYPE_ETHERNET = 1) then per packet a 16-byte record header
 * (seconds, microseconds, captured length, original length) and the bytes. Little-endian, as written by
 * libpcap on x86; readers detect the byte order from the magic.
 */

import { createWriteStream, type WriteStream } from 'node:fs';

/** LINKTYPE_ETHERNET of the tcpdump.org link-layer header types registry. */
export const LINKTYPE_ETHERNET = 1;

/** The 24-byte pcap global header. */
export function pcapGlobalHeader(snaplen = 65535, linktype = LINKTYPE_ETHERNET): Uint8Array {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setInt32(8, 0, true);
  v.setUint32(12, 0, true);
  v.setUint32(16, snaplen, true);
  v.setUint32(20, linktype, true);
  return b;
}

/** One packet record: header and (up to `snaplen`) bytes, stamped with `timeMs` (Unix milliseconds). */
export function pcapRecord(frame: Uint8Array, timeMs: number, snaplen = 65535): Uint8Array {
  const cap = Math.min(frame.length, snaplen);
  const b = new Uint8Array(16 + cap);
  const v = new DataView(b.buffer);
  const sec = Math.floor(timeMs / 1000);
  v.setUint32(0, sec, true);
  v.setUint32(4, Math.floor((timeMs - sec * 1000) * 1000), true);
  v.setUint32(8, cap, true);
  v.setUint32(12, frame.length, true);
  b.set(frame.subarray(0, cap), 16);
  return b;
}

/** Reads a pcap file's bytes back into frames (little- or big-endian, microsecond magic only). */
export function readPcap(data: Uint8Array): { linktype: number; frames: Uint8Array[] } {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < 24) throw new RangeError('pcap: shorter than its global header');
  const magic = v.getUint32(0, true);
  const le = magic === 0xa1b2c3d4;
  if (!le && v.getUint32(0, false) !== 0xa1b2c3d4) throw new RangeError('pcap: bad magic');
  const linktype = v.getUint32(20, le);
  const frames: Uint8Array[] = [];
  let off = 24;
  while (off + 16 <= data.length) {
    const cap = v.getUint32(off + 8, le);
    if (off + 16 + cap > data.length) break;
    frames.push(data.slice(off + 16, off + 16 + cap));
    off += 16 + cap;
  }
  return { linktype, frames };
}

/**
 * A capture to a file. Writing never blocks the switch: when the file falls behind by more than `maxBufferBytes`
 * records are dropped and counted in `dropped`, so a capture cannot grow memory without bound.
 */
export class PcapWriter {
  /** Records dropped because the file could not keep up. */
  dropped = 0;
  /** Records written. */
  written = 0;
  private readonly stream: WriteStream;
  private readonly maxBufferBytes: number;
  private closed = false;

  constructor(
    readonly path: string,
    opts: { snaplen?: number; maxBufferBytes?: number } = {},
  ) {
    this.snaplen = opts.snaplen ?? 65535;
    this.maxBufferBytes = opts.maxBufferBytes ?? 8 << 20;
    this.stream = createWriteStream(path);
    this.stream.on('error', () => {
      this.closed = true;
    });
    this.stream.write(pcapGlobalHeader(this.snaplen));
  }

  /** Snapshot length: bytes kept of each frame. */
  readonly snaplen: number;

  /** Appends one frame stamped now. */
  write(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.stream.writableLength > this.maxBufferBytes) {
      this.dropped++;
      return;
    }
    this.stream.write(pcapRecord(frame, Date.now(), this.snaplen));
    this.written++;
  }

  /** Flushes and closes the file. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.stream.end(() => resolve()));
  }
}
