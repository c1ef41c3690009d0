import type { EventRow, StateStore } from './state-store.js';

/** Kinds of events: a resource's lifecycle changed, or an operation changed. */
export type EventType = 'lifecycle' | 'operation';

/**
 * The daemon's event stream: every lifecycle and operation event gets the next sequence number and is kept in the
 * state store, so a client that lost its connection resumes from the last number it saw without a gap.
 */
export class EventLog {
  private readonly listeners = new Set<(e: EventRow) => void>();

  constructor(private readonly store: StateStore) {}

  /** Records an event and delivers it to every subscriber. */
  emit(type: EventType, resource: string, data: Record<string, unknown>): EventRow {
    const row = this.store.appendEvent(type, resource, data);
    for (const l of this.listeners) {
      try {
        l(row);
      } catch {
        // A subscriber's failure (a closed socket) must not stop delivery to the others.
      }
    }
    return row;
  }

  /**
   * Subscribes from sequence number `since` (exclusive): events already recorded after it are delivered first, in
   * order, then live ones. Returns the function that ends the subscription.
   */
  subscribe(since: number | undefined, listener: (e: EventRow) => void): () => void {
    // Node runs this synchronously: no event can be emitted between the catch-up read and the registration.
    if (since !== undefined) for (const e of this.store.eventsAfter(since)) listener(e);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Delivers an event to the live subscribers only: it is not kept and never replayed (progress of a running
   * operation, usage samples). It carries `transient: true` and the newest kept sequence number, so a client that
   * resumes from its last seen number misses nothing that is kept; subscribers that want kept events only skip it.
   */
  publish(type: string, resource: string, data: Record<string, unknown>): void {
    const row: EventRow & { transient: true } = {
      seq: this.store.lastEventSeq(),
      at: new Date().toISOString(),
      type,
      resource,
      data,
      transient: true,
    };
    for (const l of this.listeners) {
      try {
        l(row);
      } catch {
        // As in emit: one subscriber's failure does not stop the others.
      }
    }
  }

  /** How many live subscribers there are. */
  subscribers(): number {
    return this.listeners.size;
  }

  /** Events after `since`. */
  after(since: number, limit?: number): EventRow[] {
    return this.store.eventsAfter(since, limit);
  }

  /** The newest sequence number. */
  lastSeq(): number {
    return this.store.lastEventSeq();
  }
}
