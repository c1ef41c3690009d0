import { useEffect, useRef, useState } from 'preact/hooks';
import type { Instance, Operation, StateChange } from '../api/schema/index.js';
import { api, messageOf } from './api.js';
import { ConsoleView } from './console-view.js';
import { formatAgo, formatBytes, instanceOf } from './format.js';
import type { LiveState, LiveStore } from './live.js';
import { ErrorNote, Modal, OperationProgress, PageHead, StateBadge } from './ui.js';
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
    const force = inst.status !== 'stopped' && inst.status !== 'failed';
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
        <button type="button" class="btn btn-danger" disabled={busy} onClick={() => setConfirming(true)}>
          Delete
        </button>
      </div>
      <ErrorNote message={error ?? (inst.status === 'failed' ? inst.statusReason : null)} />
      {ops.map((op) => (
        <OperationProgress key={op.id} op={op} />
      ))}
      {confirming ? <ConfirmDelete inst={inst} onCancel={() => setConfirming(false)} onConfirm={remove} /> : null}
      <div class="instance-layout">
        <ConsoleView instance={inst} />
        <div class="side">
          <UsageCharts name={inst.name} running={inst.status === 'running' || inst.status === 'paused'} />
          <section class="card details" aria-labelledby="details-title">
            <h2 id="details-title">Details</h2>
            <dl>
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

/** The delete confirmation: a modal dialog; Escape or Cancel keeps the instance. */
function ConfirmDelete({ inst, onCancel, onConfirm }: { inst: Instance; onCancel: () => void; onConfirm: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  const running = inst.status !== 'stopped' && inst.status !== 'failed';
  return (
    <Modal dialogRef={ref} titleId="confirm-title" onClose={onCancel}>
      <h2 id="confirm-title">Delete {inst.name}?</h2>
      <p>
        {running ? 'It is running: it is stopped at once, without a shutdown. ' : ''}Its disk is deleted too. This
        cannot be undone.
      </p>
      <div class="dialog-actions">
        <button type="button" class="btn" onClick={onCancel} autofocus>
          Cancel
        </button>
        <button type="button" class="btn btn-danger" onClick={onConfirm}>
          {running ? 'Stop and delete' : 'Delete'}
        </button>
      </div>
    </Modal>
  );
}
