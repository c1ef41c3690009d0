/**
 * How a block device (virtio-blk, later an NBD export) uses a disk, whatever provides it: a raw file, a qcow2
 * image with its backing chain, an in-memory disk in a test or a browser tab. Consumer-side port: it says what the
 * device needs, not how a provider makes it. Offsets and lengths are bytes, multiples of 512.
 *
 * Every method settles asynchronously; a failure rejects with a StrataError (code IO, NO_SPACE, or
 * INVALID_ARGUMENT for a request beyond the capacity) and never leaves the image corrupt. Requests may be issued
 * concurrently; a provider orders them as needed. Data is durable only after `flush()` resolves.
 */
export interface BlockBackend {
  /** Capacity the guest sees, in bytes (a multiple of 512). */
  readonly sizeBytes: number;
  /** True when writes, discards and write-zeroes are refused. */
  readonly readOnly: boolean;
  /** A short identifier for the guest (virtio-blk GET_ID: at most 20 bytes). */
  readonly serial: string;
  /** Reads `dest.length` bytes at `offsetBytes` into `dest`. Unallocated areas read as zeros. */
  read(offsetBytes: number, dest: Uint8Array): Promise<void>;
  /** Writes `src` at `offsetBytes`. */
  write(offsetBytes: number, src: Uint8Array): Promise<void>;
  /** Makes every completed write durable. */
  flush(): Promise<void>;
  /** Tells the provider the range is no longer needed; it then reads as zeros. */
  discard(offsetBytes: number, lengthBytes: number): Promise<void>;
  /** Makes the range read as zeros; `mayUnmap` lets the provider deallocate it. */
  writeZeroes(offsetBytes: number, lengthBytes: number, mayUnmap: boolean): Promise<void>;
  /** Flushes and releases the backend; no request may follow. */
  close(): Promise<void>;
}
