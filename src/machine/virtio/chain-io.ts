import type { ChainSegment, DescriptorChain } from './split-virtqueue.js';

/**
 * Copies the device-readable bytes of `chain` that start `offsetBytes` into its readable buffers into `dest`, as
 * many as fit and exist; returns how many were copied.
 */
export function readFromChain(ram: Uint8Array, chain: DescriptorChain, offsetBytes: number, dest: Uint8Array): number {
  return copySegments(chain.readable, offsetBytes, dest.length, (ramIndex, at, n) => {
    dest.set(ram.subarray(ramIndex, ramIndex + n), at);
  });
}

/**
 * Copies `src` into the device-writable buffers of `chain`, starting `offsetBytes` into them, as much as fits;
 * returns how many bytes were written.
 */
export function writeToChain(ram: Uint8Array, chain: DescriptorChain, offsetBytes: number, src: Uint8Array): number {
  return copySegments(chain.writable, offsetBytes, src.length, (ramIndex, at, n) => {
    ram.set(src.subarray(at, at + n), ramIndex);
  });
}

/** Fills `lengthBytes` of the writable buffers of `chain` from `offsetBytes` with `fill(dest)`; returns the count. */
export function fillChain(
  ram: Uint8Array,
  chain: DescriptorChain,
  offsetBytes: number,
  lengthBytes: number,
  fill: (dest: Uint8Array) => void,
): number {
  return copySegments(chain.writable, offsetBytes, lengthBytes, (ramIndex, _at, n) => {
    fill(ram.subarray(ramIndex, ramIndex + n));
  });
}

/** Walks `segments` from byte `offsetBytes` for at most `lengthBytes`, calling `copy(ramIndex, doneSoFar, n)`. */
function copySegments(
  segments: readonly ChainSegment[],
  offsetBytes: number,
  lengthBytes: number,
  copy: (ramIndex: number, at: number, n: number) => void,
): number {
  let skip = offsetBytes;
  let done = 0;
  for (const s of segments) {
    if (done >= lengthBytes) break;
    if (skip >= s.lengthBytes) {
      skip -= s.lengthBytes;
      continue;
    }
    const n = Math.min(s.lengthBytes - skip, lengthBytes - done);
    copy(s.ramIndex + skip, done, n);
    done += n;
    skip = 0;
  }
  return done;
}
