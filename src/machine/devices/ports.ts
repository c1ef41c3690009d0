/**
 * Backend ports of the machine: how devices use host resources. The machine declares them; the services layer
 * (or a test, or a browser tab) implements them. Consumer-side interfaces: they say what a device needs, not how a
 * provider makes it.
 */

/** Receives bytes the host sends to the guest's console (a terminal, a socket, a test). */
export type CharInputListener = (bytes: Uint8Array) => void;

/**
 * A character device backend: the host side of a serial console.
 *
 * - `write` receives every byte the guest transmits, in order. It must not throw and should not block; the bytes
 *   are only valid during the call (copy them to keep them).
 * - `setInputListener` is how the backend pushes host input: the machine registers one listener (or `null` to
 *   detach) and the backend calls it whenever the user types or pastes. The machine buffers a bounded amount and
 *   drops the excess, so a flood never grows memory without bound.
 */
export interface CharBackend {
  /** Bytes the guest sent. */
  write(bytes: Uint8Array): void;
  /** Registers the single receiver of host input; `null` detaches it. */
  setInputListener(listener: CharInputListener | null): void;
}

/**
 * The host's clocks, in nanoseconds as JavaScript numbers (whole numbers; above 2^53 a number keeps about 256 ns
 * of precision, which is plenty for a wall clock).
 */
export interface Clock {
  /** A clock that never goes backwards (for timeouts and guest time), from an arbitrary origin. */
  monotonicNs(): number;
  /** Nanoseconds since the Unix epoch, UTC (for the RTC). May jump when the host's time is set. */
  wallClockNs(): number;
}
