import Database from 'better-sqlite3';
import { StrataError } from '../../base/errors.js';
import type { VmState } from '../../hypervisor/vm-action.js';
import type { EngineName } from './engine.js';

/** Resource limits of an instance (0: none). */
export interface InstanceLimits {
  /** Relative CPU weight, 1..10000 (cgroup v2 `cpu.weight`; mapped to v1 `cpu.shares`). Default 100. */
  cpuWeight: number;
  /** Most CPU time per period in percent of one host CPU (100 = one CPU); 0: no cap. */
  cpuQuotaPercent: number;
  diskIops: number;
  diskBytesPerSec: number;
  nicBytesPerSec: number;
}

/** An instance as stored. */
export interface InstanceRecord {
  name: string;
  id: string;
  image: string;
  engine: EngineName;
  cpus: number;
  memoryBytes: number;
  diskSizeBytes: number;
  network: string | null;
  limits: InstanceLimits;
  status: VmState;
  /** Why the instance is failed (or how it last stopped). */
  statusReason: string | null;
  vmmPid: number | null;
  createdAt: string;
  updatedAt: string;
  lastStartedAt: string | null;
}

/** An operation as stored. */
export interface OperationRow {
  id: string;
  kind: string;
  resource: string;
  status: 'running' | 'success' | 'failure' | 'cancelled';
  errorCode: string | null;
  errorMessage: string | null;
  /** What a finished operation produced (an export's path), or null. */
  result: Record<string, string> | null;
  createdAt: string;
  updatedAt: string;
}

/** One event as stored. */
export interface EventRow {
  seq: number;
  at: string;
  type: string;
  resource: string;
  data: unknown;
}

const SCHEMA_VERSION = 1;

/**
 * The daemon's state in SQLite (`$STRATA_HOME/daemon/state.db`, WAL mode): instances, operations and the event log.
 * Writes are synchronous and each public method is one transaction, so a failed create leaves no row.
 */
export class StateStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    try {
      this.db = new Database(path);
    } catch (err) {
      throw new StrataError('IO', `cannot open the state database ${path}: ${(err as Error).message}`);
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  private migrate(): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS instances (
        name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, image TEXT NOT NULL, engine TEXT NOT NULL,
        cpus INTEGER NOT NULL, memory_bytes INTEGER NOT NULL, disk_size_bytes INTEGER NOT NULL, network TEXT,
        limits TEXT NOT NULL, status TEXT NOT NULL, status_reason TEXT, vmm_pid INTEGER,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, last_started_at TEXT);
      CREATE TABLE IF NOT EXISTS operations (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, resource TEXT NOT NULL, status TEXT NOT NULL,
        error_code TEXT, error_message TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, type TEXT NOT NULL, resource TEXT NOT NULL,
        data TEXT NOT NULL);
    `);
    const opColumns = this.db.prepare('PRAGMA table_info(operations)').all() as { name: string }[];
    if (!opColumns.some((c) => c.name === 'result')) this.db.exec('ALTER TABLE operations ADD COLUMN result TEXT');
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get('schema_version') as
      | { value: string }
      | undefined;
    if (!row)
      this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
    else if (Number(row.value) > SCHEMA_VERSION) {
      throw new StrataError(
        'IO',
        `the state database has schema ${row.value}, newer than this daemon's ${SCHEMA_VERSION}`,
      );
    }
  }

  /** Runs `fn` in one transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Inserts a new instance; ALREADY_EXISTS naming it when the name is taken. */
  insertInstance(r: InstanceRecord): void {
    try {
      this.db
        .prepare(
          `INSERT INTO instances (name, id, image, engine, cpus, memory_bytes, disk_size_bytes, network, limits,
           status, status_reason, vmm_pid, created_at, updated_at, last_started_at)
           VALUES (@name, @id, @image, @engine, @cpus, @memoryBytes, @diskSizeBytes, @network, @limits, @status,
           @statusReason, @vmmPid, @createdAt, @updatedAt, @lastStartedAt)`,
        )
        .run({ ...r, limits: JSON.stringify(r.limits) });
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new StrataError('ALREADY_EXISTS', `instance name '${r.name}' is already taken`);
      }
      throw err;
    }
  }

  /** The instance named `name`, or undefined. */
  getInstance(name: string): InstanceRecord | undefined {
    const row = this.db.prepare('SELECT * FROM instances WHERE name = ?').get(name) as DbInstance | undefined;
    return row ? fromDb(row) : undefined;
  }

  /** Every instance, by name. */
  listInstances(): InstanceRecord[] {
    return (this.db.prepare('SELECT * FROM instances ORDER BY name').all() as DbInstance[]).map(fromDb);
  }

  /** Changes fields of an instance (and its `updatedAt`); NOT_FOUND when it does not exist. */
  updateInstance(name: string, patch: Partial<Omit<InstanceRecord, 'name' | 'id' | 'createdAt'>>): InstanceRecord {
    const cur = this.getInstance(name);
    if (!cur) throw new StrataError('NOT_FOUND', `no instance named '${name}'`);
    const next: InstanceRecord = { ...cur, ...patch, updatedAt: new Date().toISOString() };
    this.db
      .prepare(
        `UPDATE instances SET image=@image, engine=@engine, cpus=@cpus, memory_bytes=@memoryBytes,
         disk_size_bytes=@diskSizeBytes, network=@network, limits=@limits, status=@status,
         status_reason=@statusReason, vmm_pid=@vmmPid, updated_at=@updatedAt, last_started_at=@lastStartedAt
         WHERE name=@name`,
      )
      .run({ ...next, limits: JSON.stringify(next.limits) });
    return next;
  }

  /** Deletes an instance row. */
  deleteInstance(name: string): void {
    this.db.prepare('DELETE FROM instances WHERE name = ?').run(name);
  }

  /** Inserts or replaces an operation row. */
  putOperation(op: OperationRow): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO operations (id, kind, resource, status, error_code, error_message, result,
         created_at, updated_at) VALUES (@id, @kind, @resource, @status, @errorCode, @errorMessage, @result,
         @createdAt, @updatedAt)`,
      )
      .run({ ...op, result: op.result ? JSON.stringify(op.result) : null });
  }

  /** The most recent operations, newest first. */
  listOperations(limit = 200): OperationRow[] {
    const rows = this.db
      .prepare('SELECT * FROM operations ORDER BY created_at DESC LIMIT ?')
      .all(limit) as DbOperation[];
    return rows.map(opFromDb);
  }

  /**
   * Marks operations left running by a previous daemon as failed and keeps only the newest `keep` operations;
   * returns how many were marked.
   */
  failRunningOperations(message: string, keep = 5000): number {
    const now = new Date().toISOString();
    this.db
      .prepare('DELETE FROM operations WHERE id NOT IN (SELECT id FROM operations ORDER BY created_at DESC LIMIT ?)')
      .run(keep);
    return this.db
      .prepare(
        `UPDATE operations SET status='failure', error_code='ABORTED', error_message=?, updated_at=?
         WHERE status='running'`,
      )
      .run(message, now).changes;
  }

  /** Appends an event and returns it with its sequence number; keeps at most `keep` events. */
  appendEvent(type: string, resource: string, data: unknown, keep = 10_000): EventRow {
    const at = new Date().toISOString();
    const r = this.db
      .prepare('INSERT INTO events (at, type, resource, data) VALUES (?, ?, ?, ?)')
      .run(at, type, resource, JSON.stringify(data));
    const seq = Number(r.lastInsertRowid);
    if (seq % 500 === 0) this.db.prepare('DELETE FROM events WHERE seq <= ?').run(seq - keep);
    return { seq, at, type, resource, data };
  }

  /** Events after `seq`, oldest first (at most `limit`). */
  eventsAfter(seq: number, limit = 10_000): EventRow[] {
    const rows = this.db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit) as {
      seq: number;
      at: string;
      type: string;
      resource: string;
      data: string;
    }[];
    return rows.map((r) => ({ ...r, data: JSON.parse(r.data) as unknown }));
  }

  /** The newest event sequence number (0 when there is none). */
  lastEventSeq(): number {
    const r = this.db.prepare('SELECT MAX(seq) AS seq FROM events').get() as { seq: number | null };
    return r.seq ?? 0;
  }

  /** Closes the database. */
  close(): void {
    this.db.close();
  }
}

interface DbInstance {
  name: string;
  id: string;
  image: string;
  engine: string;
  cpus: number;
  memory_bytes: number;
  disk_size_bytes: number;
  network: string | null;
  limits: string;
  status: string;
  status_reason: string | null;
  vmm_pid: number | null;
  created_at: string;
  updated_at: string;
  last_started_at: string | null;
}

function fromDb(r: DbInstance): InstanceRecord {
  return {
    name: r.name,
    id: r.id,
    image: r.image,
    engine: r.engine as EngineName,
    cpus: r.cpus,
    memoryBytes: r.memory_bytes,
    diskSizeBytes: r.disk_size_bytes,
    network: r.network,
    limits: JSON.parse(r.limits) as InstanceLimits,
    status: r.status as VmState,
    statusReason: r.status_reason,
    vmmPid: r.vmm_pid,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastStartedAt: r.last_started_at,
  };
}

interface DbOperation {
  id: string;
  kind: string;
  resource: string;
  status: string;
  error_code: string | null;
  error_message: string | null;
  result: string | null;
  created_at: string;
  updated_at: string;
}

function opFromDb(r: DbOperation): OperationRow {
  return {
    id: r.id,
    kind: r.kind,
    resource: r.resource,
    status: r.status as OperationRow['status'],
    errorCode: r.error_code,
    errorMessage: r.error_message,
    result: r.result ? (JSON.parse(r.result) as Record<string, string>) : null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
