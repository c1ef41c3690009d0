import { randomUUID } from 'node:crypto';
import { errorMessage, isStrataError, StrataError } from '../../base/errors.js';
import type { ProgressReporter } from '../../base/progress.js';
import type { EventLog } from './event-log.js';
import type { OperationRow, StateStore } from './state-store.js';

/** Progress of an operation, as far as it is known. */
export interface OperationProgress {
  phase: string;
  doneBytes: number;
  totalBytes: number;
  /** `steps` when the figures count steps (packages), not bytes; absent for bytes. */
  unit?: 'steps';
}

/** An operation as the API shows it. */
export interface OperationView extends OperationRow {
  progress: OperationProgress | null;
  mayCancel: boolean;
}

/** What a job gets: a signal that cancel aborts, and a progress reporter. */
export interface JobContext {
  signal: AbortSignal;
  progress: ProgressReporter;
}

interface Live {
  row: OperationRow;
  controller: AbortController;
  progress: OperationProgress | null;
  done: Promise<void>;
  /** When progress was last published, and whether a later change waits for the next slot. */
  published: number;
  pending: ReturnType<typeof setTimeout> | undefined;
}

/** Progress of one operation is published at most this often (4 per second). */
export const PROGRESS_INTERVAL_MS = 250;

/**
 * Long work (create, start, stop, image pull…) as operations: `run` starts the job detached from the request that
 * asked for it and returns at once, so a client that disconnects never leaves an operation stuck. Clients wait
 * (`wait`), poll (`get`) or cancel (`cancel`, which aborts the job's signal). Every state change is stored and
 * emitted as an `operation` event.
 */
export class OperationManager {
  private readonly live = new Map<string, Live>();

  constructor(
    private readonly store: StateStore,
    private readonly events: EventLog,
  ) {
    const n = store.failRunningOperations('the daemon restarted while the operation ran');
    void n;
  }

  /** Starts `job` as an operation of `kind` on `resource` and returns its view. */
  run(kind: string, resource: string, job: (ctx: JobContext) => Promise<unknown>): OperationView {
    const now = new Date().toISOString();
    const row: OperationRow = {
      id: randomUUID(),
      kind,
      resource,
      status: 'running',
      errorCode: null,
      errorMessage: null,
      result: null,
      createdAt: now,
      updatedAt: now,
    };
    this.store.putOperation(row);
    const controller = new AbortController();
    const live: Live = {
      row,
      controller,
      progress: null,
      done: Promise.resolve(),
      published: 0,
      pending: undefined,
    };
    const progress: ProgressReporter = {
      phase: (label, totalBytes = 0, unit = 'bytes') => {
        live.progress = { phase: label, doneBytes: 0, totalBytes, ...(unit === 'steps' ? { unit } : {}) };
        this.publishProgress(live);
      },
      update: (doneBytes, totalBytes) => {
        if (!live.progress) live.progress = { phase: kind, doneBytes: 0, totalBytes: 0 };
        live.progress.doneBytes = doneBytes;
        if (totalBytes !== undefined) live.progress.totalBytes = totalBytes;
        this.publishProgress(live);
      },
      note: () => {},
      done: () => {},
    };
    this.live.set(row.id, live);
    this.events.emit('operation', `/1.0/operations/${row.id}`, { id: row.id, kind, resource, status: 'running' });
    live.done = (async () => {
      try {
        const result = await job({ signal: controller.signal, progress });
        // A job may return what it produced (string fields, e.g. an export's path) as the operation's result.
        if (result && typeof result === 'object') live.row.result = result as Record<string, string>;
        this.finish(live, 'success');
      } catch (err) {
        const cancelled = controller.signal.aborted;
        const code = cancelled ? 'ABORTED' : isStrataError(err) ? err.code : 'INTERNAL';
        this.finish(live, cancelled ? 'cancelled' : 'failure', code, errorMessage(err));
      }
    })();
    return this.view(live);
  }

  /**
   * Sends a running operation's progress to the event stream's live subscribers (an `operation` event with
   * `transient: true`, not kept): at once when the last one is older than PROGRESS_INTERVAL_MS, else once at the
   * end of that interval with the figures of then.
   */
  private publishProgress(live: Live): void {
    if (live.pending || live.row.status !== 'running') return;
    const send = () => {
      live.pending = undefined;
      if (live.row.status !== 'running' || !live.progress) return;
      live.published = Date.now();
      const r = live.row;
      this.events.publish('operation', `/1.0/operations/${r.id}`, {
        id: r.id,
        kind: r.kind,
        resource: r.resource,
        status: 'running',
        progress: { ...live.progress },
      });
    };
    const wait = live.published + PROGRESS_INTERVAL_MS - Date.now();
    if (wait <= 0) send();
    else live.pending = setTimeout(send, wait);
  }

  private finish(live: Live, status: OperationRow['status'], code?: string, message?: string): void {
    clearTimeout(live.pending);
    live.pending = undefined;
    live.row = {
      ...live.row,
      status,
      errorCode: code ?? null,
      errorMessage: message ?? null,
      updatedAt: new Date().toISOString(),
    };
    this.store.putOperation(live.row);
    this.events.emit('operation', `/1.0/operations/${live.row.id}`, {
      id: live.row.id,
      kind: live.row.kind,
      resource: live.row.resource,
      status,
      ...(message ? { error: message } : {}),
    });
    // Keep finished operations in memory a while for pollers; the store keeps them for good.
    setTimeout(() => this.live.delete(live.row.id), 10 * 60_000).unref();
  }

  private view(live: Live): OperationView {
    return { ...live.row, progress: live.progress, mayCancel: live.row.status === 'running' };
  }

  /** The operation `id`; NOT_FOUND naming it. */
  get(id: string): OperationView {
    const live = this.live.get(id);
    if (live) return this.view(live);
    const row = this.store.listOperations(10_000).find((r) => r.id === id);
    if (!row) throw new StrataError('NOT_FOUND', `no operation with id '${id}'`);
    return { ...row, progress: null, mayCancel: false };
  }

  /** Recent operations, newest first. */
  list(): OperationView[] {
    return this.store.listOperations().map((row) => {
      const live = this.live.get(row.id);
      return live ? this.view(live) : { ...row, progress: null, mayCancel: false };
    });
  }

  /**
   * Waits until operation `id` ends or `timeoutMs` passes (then returns it still running), or `signal` aborts (the
   * waiting client went away: the operation itself goes on).
   */
  async wait(id: string, timeoutMs: number, signal?: AbortSignal): Promise<OperationView> {
    const live = this.live.get(id);
    if (live?.row.status !== 'running') return this.get(id);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
      live.done.then(done, done);
    });
    return this.get(id);
  }

  /** Cancels a running operation (aborts its job); CONFLICT when it has already ended. */
  cancel(id: string): OperationView {
    const live = this.live.get(id);
    if (live?.row.status !== 'running') {
      const op = this.get(id);
      throw new StrataError('CONFLICT', `operation '${id}' is ${op.status}: nothing to cancel`);
    }
    live.controller.abort(new StrataError('ABORTED', `operation '${id}' cancelled`));
    return this.view(live);
  }

  /** Resolves when every running operation has ended (daemon shutdown). */
  async drain(timeoutMs: number): Promise<void> {
    const all = [...this.live.values()].map((l) => l.done);
    await Promise.race([Promise.all(all), new Promise((r) => setTimeout(r, timeoutMs))]);
  }
}
