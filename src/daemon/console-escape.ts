/** What the console escape parser found in one chunk of host input. */
export interface EscapeResult {
  /** Bytes for the guest. */
  guest: Uint8Array;
  /** Escape commands seen, in order: 'quit', 'help', or 'unknown' for an unbound key. */
  commands: ('quit' | 'help' | 'unknown')[];
}

/** The escape key: Ctrl-A, as in QEMU's `-nographic` mux. */
export const ESCAPE_BYTE = 0x01;

/** The help text for `Ctrl-A h`. */
export const ESCAPE_HELP = [
  'Ctrl-A h    print this help',
  'Ctrl-A x    quit (the guest is stopped)',
  'Ctrl-A a    send Ctrl-A to the guest',
].join('\r\n');

/**
 * Splits console input typed on a terminal into guest bytes and escape commands (`Ctrl-A x` quits, `Ctrl-A h`
 * prints help, `Ctrl-A a` sends a literal Ctrl-A). The parser keeps state across chunks, so an escape split over
 * two reads still works.
 */
export class ConsoleEscapeParser {
  private pendingEscape = false;

  /** Parses one chunk of input. */
  feed(chunk: Uint8Array): EscapeResult {
    const guest: number[] = [];
    const commands: EscapeResult['commands'] = [];
    for (const b of chunk) {
      if (this.pendingEscape) {
        this.pendingEscape = false;
        const key = String.fromCharCode(b).toLowerCase();
        if (key === 'x') commands.push('quit');
        else if (key === 'h' || key === '?') commands.push('help');
        else if (b === ESCAPE_BYTE || key === 'a') guest.push(ESCAPE_BYTE);
        else commands.push('unknown');
      } else if (b === ESCAPE_BYTE) {
        this.pendingEscape = true;
      } else {
        guest.push(b);
      }
    }
    return { guest: Uint8Array.from(guest), commands };
  }
}
