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
}

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
    const live: Live = { row, controller, progress: null, done: Promise.resolve() };
    const progress: ProgressReporter = {
      phase: (label, totalBytes = 0) => {
        live.progress = { phase: label, doneBytes: 0, totalBytes };
      },
      update: (doneBytes, totalBytes) => {
        if (!live.progress) live.progress = { phase: kind, doneBytes: 0, totalBytes: 0 };
        live.progress.doneBytes = doneBytes;
        if (totalBytes !== undefined) live.progress.totalBytes = totalBytes;
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

  private finish(live: Live, status: OperationRow['status'], code?: string, message?: string): void {
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
