import { useEffect, useState } from 'preact/hooks';
import type {
  Instance,
  InstanceDisk,
  InstanceNic,
  InstanceState,
  Operation,
  StateChange,
} from '../api/schema/index.js';
import { api, messageOf } from './api.js';
import { ConsoleView } from './console-view.js';
import { formatAgo, formatBytes, instanceOf } from './format.js';
import type { LiveState, LiveStore } from './live.js';
import { ConfirmDialog, ErrorNote, OperationProgress, PageHead, StateBadge, TYPE_LABEL, TypeBadge } from './ui.js';
import { UsageCharts } from './usage.js';

type Action = StateChange['action'];

/** Which actions make sense in which state. */
const ACTIONS: { action: Action; label: string; when: Instance['status'][] }[] = [
  { action: 'start', label: 'Start', when: ['stopped', 'failed'] },
  { action: 'stop', label: 'Stop', when: ['running', 'paused', 'starting'] },
  { action: 'restart', label: 'Restart', when: ['running'] },
  { action: 'pause', label: 'Pause', when: ['running'] },
  { action: 'resume', label: 'Resume', when: ['paused'] },
];

/** An instance: its state and actions (delete asks first), running operations, details, and the live console. */
export function InstancePage({ name, live, store }: { name: string; live: LiveState; store: LiveStore }) {
  const inst = live.instances.find((i) => i.name === name);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [deleted, setDeleted] = useState(false);
  const [exports, setExports] = useState<string[]>([]);
  const devices = useDevices(name, inst?.status, live);

  if (!inst) {
    return (
      <>
        <PageHead title={name} />
        <div class="card empty">
          <p>{deleted ? `Instance ${name} was deleted.` : `There is no instance named ${name}.`}</p>
          <a class="btn" href="#/instances">
            Back to the instances
          </a>
        </div>
      </>
    );
  }

  const ops = live.operations.filter((o) => o.status === 'running' && instanceOf(o.resource) === name);
  const exported = live.operations.filter((o) => exports.includes(o.id) && o.status !== 'running');

  const run = async (label: string, call: () => Promise<Operation>) => {
    setBusy(true);
    setError(null);
    try {
      const op = await call();
      store.addOperation(op);
      await store.refreshInstance(name);
    } catch (err) {
      setError(`${label} failed: ${messageOf(err)}`);
    } finally {
      setBusy(false);
    }
  };
  const act = (action: Action, label: string) =>
    run(label, () => api<Operation>('PUT', `/1.0/instances/${encodeURIComponent(name)}/state`, { action }));
  const remove = () => {
    setConfirming(false);
    const force = running(inst);
    setDeleted(true);
    void run('Delete', () =>
      api<Operation>('DELETE', `/1.0/instances/${encodeURIComponent(name)}${force ? '?force=true' : ''}`),
    );
  };

  return (
    <>
      <PageHead
        title={
          <span class="title-with-badge">
            <span class="mono">{inst.name}</span>
            <StateBadge status={inst.status} />
            <TypeBadge type={inst.type} />
          </span>
        }
      />
      <div class="toolbar" role="toolbar" aria-label="Instance actions">
        {ACTIONS.map((a) => (
          <button
            key={a.action}
            type="button"
            class={`btn${a.action === 'start' ? ' btn-primary' : ''}`}
            disabled={busy || !a.when.includes(inst.status)}
            onClick={() => act(a.action, a.label)}
          >
            {a.label}
          </button>
        ))}
        {inst.type === 'vm' ? (
          <button
            type="button"
            class="btn"
            disabled={busy || inst.status !== 'stopped' || ops.some((o) => o.kind === 'instance.export')}
            title="Write the root disk to a sparse raw file on the host (stopped instances)"
            onClick={() =>
              run('Export', async () => {
                const op = await api<Operation>('POST', `/1.0/instances/${encodeURIComponent(name)}/export`);
                setExports((x) => [...x, op.id]);
                return op;
              })
            }
          >
            Export disk
          </button>
        ) : null}
        <button type="button" class="btn btn-danger" disabled={busy} onClick={() => setConfirming(true)}>
          Delete
        </button>
      </div>
      <ErrorNote message={error ?? (inst.status === 'failed' ? inst.statusReason : null)} />
      {ops.map((op) => (
        <OperationProgress key={op.id} op={op} />
      ))}
      {exported.map((op) =>
        op.status === 'success' ? (
          <p key={op.id} class="notice" role="status">
            The disk was exported to <span class="mono">{op.result?.path ?? 'a file'}</span>.
          </p>
        ) : (
          <ErrorNote key={op.id} message={`The export failed: ${op.errorMessage ?? op.status}`} />
        ),
      )}
      {confirming ? (
        <ConfirmDialog
          title={`Delete ${inst.name}?`}
          action={running(inst) ? 'Stop and delete' : 'Delete'}
          onCancel={() => setConfirming(false)}
          onConfirm={remove}
        >
          {running(inst) ? 'It is running: it is stopped at once, without a shutdown. ' : ''}Its disk is deleted too.
          This cannot be undone.
        </ConfirmDialog>
      ) : null}
      <div class="instance-layout">
        <div class="main-col">
          <ConsoleView instance={inst} />
          <div class="device-grid">
            <DiskTable disks={devices.disks} error={devices.error} />
            <NicTable nics={devices.nics} error={devices.error} />
          </div>
        </div>
        <div class="side">
          <UsageCharts inst={inst} live={live} />
          <section class="card details" aria-labelledby="details-title">
            <h2 id="details-title">Details</h2>
            <dl>
              <dt>Type</dt>
              <dd>{TYPE_LABEL[inst.type]}</dd>
              <dt>Engine</dt>
              <dd>{inst.engine}</dd>
              <dt>vCPUs</dt>
              <dd>{inst.cpus}</dd>
              <dt>Memory</dt>
              <dd>{formatBytes(inst.memoryBytes)}</dd>
              <dt>Disk</dt>
              <dd>{formatBytes(inst.diskSizeBytes)}</dd>
              <dt>Image</dt>
              <dd>{inst.image}</dd>
              <dt>Network</dt>
              <dd>{inst.network ?? 'none'}</dd>
              <dt>Created</dt>
              <dd>
                <time dateTime={inst.createdAt}>{formatAgo(inst.createdAt)}</time>
              </dd>
              <dt>Last started</dt>
              <dd>
                {inst.lastStartedAt ? (
                  <time dateTime={inst.lastStartedAt}>{formatAgo(inst.lastStartedAt)}</time>
                ) : (
                  'never'
                )}
              </dd>
              <dt>VMM process</dt>
              <dd>{inst.vmmPid ?? '—'}</dd>
            </dl>
          </section>
        </div>
      </div>
    </>
  );
}

/** Whether an instance has a process (a delete then stops it first). */
function running(inst: Instance): boolean {
  return inst.status !== 'stopped' && inst.status !== 'failed';
}

/**
 * The disks and NICs of an instance: from the live metrics samples while it runs (so counters and the leased
 * address stay current), else read once from its state whenever its status changes.
 */
function useDevices(
  name: string,
  status: Instance['status'] | undefined,
  live: LiveState,
): { disks: InstanceDisk[] | null; nics: InstanceNic[] | null; error: string | null } {
  const [state, setState] = useState<InstanceState | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (status === undefined) return;
    let alive = true;
    api<InstanceState>('GET', `/1.0/instances/${encodeURIComponent(name)}/state`).then(
      (st) => {
        if (!alive) return;
        setState(st);
        setError(null);
      },
      (err) => {
        if (alive) setError(`Its disks and NICs could not be read: ${messageOf(err)}`);
      },
    );
    return () => {
      alive = false;
    };
  }, [name, status]);
  const sample = live.metrics[name]?.sample;
  if (sample) return { disks: sample.disks, nics: sample.nics, error: null };
  return { disks: state?.disks ?? null, nics: state?.nics ?? null, error };
}

function DiskTable({ disks, error }: { disks: InstanceDisk[] | null; error: string | null }) {
  return (
    <section class="card table-card devices" aria-labelledby="disks-title">
      <h2 id="disks-title" class="card-pad">
        Disks
      </h2>
      <ErrorNote message={error} />
      {disks === null && !error ? <p class="muted card-pad">Loading…</p> : null}
      {disks?.length === 0 ? <p class="muted card-pad">No disks.</p> : null}
      {disks && disks.length > 0 ? (
        <table class="table responsive" data-table="disks">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col" class="num">
                Size
              </th>
              <th scope="col" class="num">
                On host
              </th>
              <th scope="col">Format</th>
              <th scope="col">Volume</th>
              <th scope="col" class="num">
                Read
              </th>
              <th scope="col" class="num">
                Written
              </th>
            </tr>
          </thead>
          <tbody>
            {disks.map((d) => (
              <tr key={d.name} data-disk={d.name}>
                <th scope="row" data-label="Name" class="mono strong">
                  {d.name}
                </th>
                <td data-label="Size" class="num">
                  {formatBytes(d.sizeBytes)}
                </td>
                <td data-label="On host" class="num">
                  {d.allocatedBytes === null ? '—' : formatBytes(d.allocatedBytes)}
                </td>
                <td data-label="Format">{d.format}</td>
                <td data-label="Volume" class="mono">
                  {d.volume ? `${d.pool}/${d.volume}` : <span class="muted">instance disk</span>}
                </td>
                <td data-label="Read" class="num" data-read={d.readBytes}>
                  {formatBytes(d.readBytes)}
                </td>
                <td data-label="Written" class="num">
                  {formatBytes(d.writeBytes)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function NicTable({ nics, error }: { nics: InstanceNic[] | null; error: string | null }) {
  return (
    <section class="card table-card devices" aria-labelledby="nics-title">
      <h2 id="nics-title" class="card-pad">
        Network interfaces
      </h2>
      {nics === null && !error ? <p class="muted card-pad">Loading…</p> : null}
      {nics?.length === 0 ? <p class="muted card-pad">No network interface: the instance is on no network.</p> : null}
      {nics && nics.length > 0 ? (
        <table class="table responsive" data-table="nics">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Network</th>
              <th scope="col">IPv4</th>
              <th scope="col">MAC</th>
              <th scope="col">VLAN</th>
              <th scope="col" class="num">
                Received
              </th>
              <th scope="col" class="num">
                Sent
              </th>
            </tr>
          </thead>
          <tbody>
            {nics.map((n) => (
              <tr key={n.name} data-nic={n.name}>
                <th scope="row" data-label="Name" class="mono strong">
                  {n.name}
                </th>
                <td data-label="Network">
                  {n.network ? <a href={`#/networks/${encodeURIComponent(n.network)}`}>{n.network}</a> : '—'}
                </td>
                <td data-label="IPv4" class="mono">
                  {n.ipv4 ?? <span class="muted">no lease</span>}
                </td>
                <td data-label="MAC" class="mono">
                  {n.mac ?? '—'}
                </td>
                <td data-label="VLAN">{n.vlan ?? '—'}</td>
                <td data-label="Received" class="num" data-rx={n.rxBytes}>
                  <span>
                    {formatBytes(n.rxBytes)}
                    <span class="muted small"> · {n.rxPackets} packets</span>
                  </span>
                </td>
                <td data-label="Sent" class="num">
                  <span>
                    {formatBytes(n.txBytes)}
                    <span class="muted small"> · {n.txPackets} packets</span>
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
