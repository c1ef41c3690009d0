import type { Instance, InstanceMetrics, Operation, ServerInfo, StrataEvent } from '../api/schema/index.js';
import { api, wsUrl } from './api.js';
import { instanceOf } from './format.js';

/** Whether the live event stream is connected. */
export type Connection = 'connecting' | 'live' | 'lost';

/** One point of an instance's live charts, from two consecutive metrics samples. */
export interface UsagePoint {
  /** Milliseconds since the epoch. */
  at: number;
  /** CPU busy share, % of one CPU. */
  cpuPercent: number;
  memoryBytes: number;
  diskReadBps: number;
  diskWriteBps: number;
  netRxBps: number;
  netTxBps: number;
}

/** How many points each instance's charts keep (2 minutes at one sample every 2 s). */
export const USAGE_POINTS = 60;

/** What the pages show: the instances, recent operations and events, kept current by the event stream. */
export interface LiveState {
  server: ServerInfo | null;
  instances: Instance[];
  operations: Operation[];
  events: StrataEvent[];
  /** The latest metrics sample of each running instance (NICs with their addresses, disks, usage). */
  metrics: Record<string, { at: number; sample: InstanceMetrics }>;
  /** A short ring of chart points per instance. */
  usage: Record<string, UsagePoint[]>;
  connection: Connection;
  /** False until the first load finished. */
  loaded: boolean;
}

/** How many events and operations the feed keeps. */
const KEEP = 200;

/** The empty state before the first load. */
export const EMPTY_STATE: LiveState = {
  server: null,
  instances: [],
  operations: [],
  events: [],
  metrics: {},
  usage: {},
  connection: 'connecting',
  loaded: false,
};

function upsert<T>(list: T[], item: T, key: (t: T) => string): T[] {
  const k = key(item);
  const i = list.findIndex((x) => key(x) === k);
  if (i < 0) return [...list, item];
  const next = list.slice();
  next[i] = item;
  return next;
}

const byName = (a: Instance, b: Instance) => a.name.localeCompare(b.name);

/**
 * Loads the state once, then follows `/1.0/events` over a WebSocket (no polling): every lifecycle event re-reads
 * its instance, every operation event its operation. After a lost connection it reconnects and resumes from the
 * last event seen, so no change is missed.
 */
export class LiveStore {
  private state: LiveState = EMPTY_STATE;
  private ws: WebSocket | undefined;
  private lastSeq = 0;
  private stopped = false;
  private retry: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly onChange: (s: LiveState) => void) {}

  /** Loads everything and opens the event stream. */
  async start(): Promise<void> {
    const server = await api<ServerInfo>('GET', '/1.0');
    const [instances, operations, events] = await Promise.all([
      api<Instance[]>('GET', '/1.0/instances'),
      api<Operation[]>('GET', '/1.0/operations'),
      api<StrataEvent[]>('GET', '/1.0/events'),
    ]);
    this.lastSeq = server.lastEventSeq;
    this.set({
      server,
      instances: instances.sort(byName),
      operations: operations.slice(0, KEEP),
      events: events.slice(-KEEP).reverse(),
      loaded: true,
    });
    this.connect();
  }

  /** Closes the event stream for good. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.ws?.close();
  }

  /** Re-reads one instance now (after an action of this page, before its event arrives). */
  async refreshInstance(name: string): Promise<void> {
    try {
      const inst = await api<Instance>('GET', `/1.0/instances/${encodeURIComponent(name)}`);
      this.set({ instances: upsert(this.state.instances, inst, (i) => i.name).sort(byName) });
    } catch {
      this.set({ instances: this.state.instances.filter((i) => i.name !== name) });
    }
  }

  /** Records an operation this page started (its events then keep it current). */
  addOperation(op: Operation): void {
    this.set({ operations: [op, ...this.state.operations.filter((o) => o.id !== op.id)].slice(0, KEEP) });
  }

  private set(patch: Partial<LiveState>): void {
    this.state = { ...this.state, ...patch };
    this.onChange(this.state);
  }

  private connect(): void {
    if (this.stopped) return;
    // transient=true: also the progress of running operations and the metrics samples of running instances.
    const ws = new WebSocket(wsUrl(`/1.0/events?since=${this.lastSeq}&transient=true`));
    this.ws = ws;
    ws.onopen = () => this.set({ connection: 'live' });
    ws.onmessage = (m) => {
      const e = JSON.parse(String(m.data)) as StrataEvent;
      if (e.transient) {
        this.applyTransient(e);
        return;
      }
      if (e.seq <= this.lastSeq) return;
      this.lastSeq = e.seq;
      this.set({ events: [e, ...this.state.events].slice(0, KEEP) });
      void this.apply(e);
    };
    ws.onclose = () => {
      if (this.stopped) return;
      this.set({ connection: 'lost' });
      // A refused upgrade (session ended) shows as a close: the next API call finds out and asks to sign in.
      this.retry = setTimeout(() => {
        api('GET', '/1.0').then(
          () => this.connect(),
          () => this.connect(),
        );
      }, 2000);
    };
  }

  /** A live-only event: a usage sample, or the progress of a running operation. */
  private applyTransient(e: StrataEvent): void {
    if (e.type === 'metrics') {
      const sample = e.data as unknown as InstanceMetrics;
      const at = Date.parse(e.at);
      const prev = this.state.metrics[sample.name];
      const metrics = { ...this.state.metrics, [sample.name]: { at, sample } };
      if (!prev || at <= prev.at) {
        this.set({ metrics });
        return;
      }
      const secs = (at - prev.at) / 1000;
      const a = prev.sample.usage;
      const b = sample.usage;
      const rate = (x: number, y: number) => Math.max(0, (y - x) / secs);
      const point: UsagePoint = {
        at,
        cpuPercent: rate(a.cpuSeconds, b.cpuSeconds) * 100,
        memoryBytes: b.memoryRssBytes,
        diskReadBps: rate(a.diskReadBytes, b.diskReadBytes),
        diskWriteBps: rate(a.diskWriteBytes, b.diskWriteBytes),
        netRxBps: rate(a.nicRxBytes, b.nicRxBytes),
        netTxBps: rate(a.nicTxBytes, b.nicTxBytes),
      };
      const ring = [...(this.state.usage[sample.name] ?? []), point].slice(-USAGE_POINTS);
      this.set({ metrics, usage: { ...this.state.usage, [sample.name]: ring } });
      return;
    }
    if (e.type === 'operation') {
      const id = String(e.data.id ?? '');
      const progress = e.data.progress as Operation['progress'] | undefined;
      const known = this.state.operations.find((o) => o.id === id);
      if (!known || !progress || known.status !== 'running') return;
      this.set({ operations: this.state.operations.map((o) => (o.id === id ? { ...o, progress } : o)) });
    }
  }

  private async apply(e: StrataEvent): Promise<void> {
    if (e.type === 'operation') {
      const id = String(e.data.id ?? '');
      if (!id) return;
      try {
        this.addOperation(await api<Operation>('GET', `/1.0/operations/${encodeURIComponent(id)}`));
      } catch {
        // Gone already: the feed keeps the event.
      }
      return;
    }
    const name = instanceOf(e.resource);
    if (!name) return;
    if (e.data.action === 'instance-deleted') {
      this.set({ instances: this.state.instances.filter((i) => i.name !== name) });
      return;
    }
    await this.refreshInstance(name);
    const now = this.state.instances.find((i) => i.name === name);
    if (now && now.status !== 'running' && now.status !== 'paused' && this.state.metrics[name]) {
      // A stopped instance has no usage and no address: drop its sample (its chart ring starts again on boot).
      const { [name]: _gone, ...metrics } = this.state.metrics;
      const { [name]: _ring, ...usage } = this.state.usage;
      this.set({ metrics, usage });
    }
  }
}
