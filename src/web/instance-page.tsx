import { useEffect, useState } from 'preact/hooks';
import type {
  ExecResult,
  Instance,
  InstanceDisk,
  InstanceNic,
  InstanceState,
  Operation,
  StateChange,
} from '../api/schema/index.js';
import { api, messageOf } from './api.js';
import { ConsoleView } from './console-view.js';
import { formatAgo, formatBytes, fromBase64, instanceOf } from './format.js';
import type { LiveState, LiveStore } from './live.js';
import {
  ConfirmDialog,
  ErrorNote,
  num,
  OperationProgress,
  PageHead,
  StateBadge,
  TableHead,
  TYPE_LABEL,
  TypeBadge,
} from './ui.js';
import { UsageCharts } from './usage.js';

type Action = StateChange['action'];
type ContainerSettings = NonNullable<Instance['container']>;
type SandboxSettings = NonNullable<Instance['sandbox']>;

/** Which actions make sense in which state, and for which types (a sandbox cannot be paused: the API refuses). */
const ACTIONS: { action: Action; label: string; when: Instance['status'][]; types: Instance['type'][] }[] = [
  { action: 'start', label: 'Start', when: ['stopped', 'failed'], types: ['vm', 'container', 'sandbox'] },
  { action: 'stop', label: 'Stop', when: ['running', 'paused', 'starting'], types: ['vm', 'container', 'sandbox'] },
  { action: 'restart', label: 'Restart', when: ['running'], types: ['vm', 'container', 'sandbox'] },
  { action: 'pause', label: 'Pause', when: ['running'], types: ['vm', 'container'] },
  { action: 'resume', label: 'Resume', when: ['paused'], types: ['vm', 'container'] },
];

/** What a delete removes with the instance, by type. */
const DELETED_WITH: Record<Instance['type'], string> = {
  vm: 'Its disk is deleted too.',
  container: 'Its layer (every file it changed) is deleted too.',
  sandbox: 'Its folder is deleted too.',
};

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
        {ACTIONS.filter((a) => a.types.includes(inst.type)).map((a) => (
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
          {running(inst) ? 'It is running: it is stopped at once, without a shutdown. ' : ''}
          {DELETED_WITH[inst.type]} This cannot be undone.
        </ConfirmDialog>
      ) : null}
      <ExitNote inst={inst} />
      <div class="instance-layout">
        <div class="main-col">
          <ConsoleView instance={inst} />
          {inst.type === 'container' ? <ExecBox inst={inst} /> : null}
          {inst.type === 'sandbox' ? null : (
            <div class={`device-grid${inst.type === 'container' ? ' device-grid-one' : ''}`}>
              {inst.type === 'vm' ? <DiskTable disks={devices.disks} error={devices.error} /> : null}
              <NicTable nics={devices.nics} error={devices.error} />
            </div>
          )}
        </div>
        <div class="side">
          <UsageCharts inst={inst} live={live} />
          <Details inst={inst} />
          {inst.container ? <ContainerSettingsCard settings={inst.container} /> : null}
          {inst.sandbox ? <SandboxSettingsCard settings={inst.sandbox} /> : null}
        </div>
      </div>
    </>
  );
}

/** The details every instance has, and those of its type. */
function Details({ inst }: { inst: Instance }) {
  const vm = inst.type === 'vm';
  return (
    <section class="card details" aria-labelledby="details-title">
      <h2 id="details-title">Details</h2>
      <dl>
        <dt>Type</dt>
        <dd>{TYPE_LABEL[inst.type]}</dd>
        <dt>Engine</dt>
        <dd>{inst.engine}</dd>
        {vm ? (
          <>
            <dt>vCPUs</dt>
            <dd>{inst.cpus}</dd>
            <dt>Memory</dt>
            <dd>{formatBytes(inst.memoryBytes)}</dd>
            <dt>Disk</dt>
            <dd>{formatBytes(inst.diskSizeBytes)}</dd>
          </>
        ) : null}
        <dt>{inst.type === 'sandbox' ? 'Module' : 'Image'}</dt>
        <dd class="mono">{inst.image}</dd>
        {inst.type === 'sandbox' ? null : (
          <>
            <dt>Network</dt>
            <dd>{inst.network ?? 'none'}</dd>
          </>
        )}
        <dt>Created</dt>
        <dd>
          <time dateTime={inst.createdAt}>{formatAgo(inst.createdAt)}</time>
        </dd>
        {vm || inst.lastStartedAt ? (
          <>
            <dt>Last started</dt>
            <dd>
              {inst.lastStartedAt ? (
                <time dateTime={inst.lastStartedAt}>{formatAgo(inst.lastStartedAt)}</time>
              ) : (
                'never'
              )}
            </dd>
          </>
        ) : null}
        {vm ? (
          <>
            <dt>VMM process</dt>
            <dd>{inst.vmmPid ?? '—'}</dd>
          </>
        ) : (
          <>
            <dt>Last exit code</dt>
            <dd data-exit-code={inst.exitCode ?? ''}>{inst.exitCode ?? '—'}</dd>
          </>
        )}
      </dl>
    </section>
  );
}

/** How a sandbox's last run ended, in words. */
const LAST_END: Record<NonNullable<SandboxSettings['lastEnd']>, string> = {
  exit: 'the module exited',
  trap: 'the module trapped (a WebAssembly runtime error)',
  'cpu-limit': 'it used up its CPU time limit',
  'memory-limit': 'it reached its memory cap',
  stopped: 'it was stopped',
  error: 'it could not run',
};

/** A stopped container or sandbox: its exit code and why it ended. */
function ExitNote({ inst }: { inst: Instance }) {
  if (inst.type === 'vm' || inst.status !== 'stopped' || inst.exitCode === undefined || inst.exitCode === null) {
    return null;
  }
  const end = inst.sandbox?.lastEnd ? LAST_END[inst.sandbox.lastEnd] : null;
  const why = end ?? inst.statusReason;
  return (
    <p class={`exit-note${inst.exitCode === 0 ? '' : ' exit-bad'}`} role="status" data-exit={inst.exitCode}>
      Exited with code <strong class="mono">{inst.exitCode}</strong>
      {why ? <span>: {why}</span> : null}
    </p>
  );
}

/** Environment variables as NAME=value lines, or a dash. */
function EnvList({ env }: { env: Record<string, string> }) {
  const names = Object.keys(env);
  if (names.length === 0) return <>—</>;
  return (
    <span class="mono env-list">
      {names.map((n) => (
        <span key={n}>
          {n}={env[n]}
        </span>
      ))}
    </span>
  );
}

function ContainerSettingsCard({ settings: c }: { settings: ContainerSettings }) {
  return (
    <section class="card details" aria-labelledby="container-title" data-settings="container">
      <h2 id="container-title">Container settings</h2>
      <dl>
        <dt>Hostname</dt>
        <dd class="mono" data-hostname={c.hostname}>
          {c.hostname}
        </dd>
        <dt>Command</dt>
        <dd class="mono wrap">{c.command.join(' ')}</dd>
        <dt>Memory limit</dt>
        <dd>{c.memoryLimitBytes === null ? 'none' : formatBytes(c.memoryLimitBytes)}</dd>
        <dt>CPU weight</dt>
        <dd>{c.cpuWeight ?? '100 (default)'}</dd>
        <dt>CPU quota</dt>
        <dd>{c.cpuQuotaPercent === null ? 'no cap' : `${c.cpuQuotaPercent}% of one CPU`}</dd>
        <dt>Pids limit</dt>
        <dd>{c.pidsLimit ?? 'no limit'}</dd>
        <dt>OOM kills</dt>
        <dd>{c.oomKills}</dd>
        <dt>Environment</dt>
        <dd>
          <EnvList env={c.env} />
        </dd>
      </dl>
    </section>
  );
}

function SandboxSettingsCard({ settings: s }: { settings: SandboxSettings }) {
  return (
    <section class="card details" aria-labelledby="sandbox-title" data-settings="sandbox">
      <h2 id="sandbox-title">Sandbox settings</h2>
      <dl>
        <dt>Arguments</dt>
        <dd class="mono wrap">
          {s.args.length > 0 ? s.args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ') : '—'}
        </dd>
        <dt>CPU time limit</dt>
        <dd>{s.cpuTimeLimitMs} ms a run</dd>
        <dt>Memory cap</dt>
        <dd>{formatBytes(s.memoryLimitBytes)}</dd>
        <dt>Last run</dt>
        <dd>{s.lastEnd ? LAST_END[s.lastEnd] : 'not ended yet'}</dd>
        <dt>Environment</dt>
        <dd>
          <EnvList env={s.env} />
        </dd>
      </dl>
    </section>
  );
}

/** The result of one exec, as shown. */
interface ExecShown {
  line: string;
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command line in a running container (`/bin/sh -c LINE` through `POST /1.0/instances/{name}/exec`) and shows
 * its output and exit code.
 */
function ExecBox({ inst }: { inst: Instance }) {
  const [line, setLine] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<ExecShown | null>(null);
  const running = inst.status === 'running';
  const submit = async (e: Event) => {
    e.preventDefault();
    const cmd = line.trim();
    if (!cmd) {
      setError('Type a command to run, such as cat /etc/hostname.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const r = await api<ExecResult>('POST', `/1.0/instances/${encodeURIComponent(inst.name)}/exec`, {
        command: ['/bin/sh', '-c', cmd],
      });
      setResult({ line: cmd, exitCode: r.exitCode, stdout: fromBase64(r.stdout), stderr: fromBase64(r.stderr) });
    } catch (err) {
      setError(`${cmd} did not run: ${messageOf(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card exec-card" aria-labelledby="exec-title">
      <h2 id="exec-title">Run a command</h2>
      <form class="exec-form" onSubmit={submit} noValidate>
        <label for="exec-line" class="visually-hidden">
          Command line
        </label>
        <input
          id="exec-line"
          class="mono"
          value={line}
          onInput={(e) => {
            setLine((e.target as HTMLInputElement).value);
            setError(null);
          }}
          placeholder={running ? 'cat /etc/hostname' : 'start the container to run commands'}
          autocomplete="off"
          spellcheck={false}
          disabled={!running}
          aria-invalid={error ? 'true' : 'false'}
          aria-describedby={error ? 'exec-err' : 'exec-hint'}
        />
        <button type="submit" class="btn btn-primary" disabled={busy || !running}>
          {busy ? 'Running…' : 'Run'}
        </button>
      </form>
      {error ? (
        <p class="error-note" id="exec-err" role="alert">
          {error}
        </p>
      ) : (
        <p class="muted small" id="exec-hint">
          Run by <span class="mono">/bin/sh -c</span> in the container; waits for it to end.
        </p>
      )}
      {result ? (
        <div class="exec-result" data-exit-code={result.exitCode} aria-live="polite">
          <div class="exec-head">
            <span class="mono exec-line">$ {result.line}</span>
            <span class={`exec-code${result.exitCode === 0 ? '' : ' exit-bad'}`}>exit code {result.exitCode}</span>
          </div>
          {result.stdout ? (
            <pre class="exec-out" data-stream="stdout">
              {result.stdout}
            </pre>
          ) : null}
          {result.stderr ? (
            <pre class="exec-out exec-err" data-stream="stderr">
              {result.stderr}
            </pre>
          ) : null}
          {!result.stdout && !result.stderr ? <p class="muted small">No output.</p> : null}
        </div>
      ) : null}
    </section>
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
          <TableHead columns={['Name', num('Size'), num('On host'), 'Format', 'Volume', num('Read'), num('Written')]} />
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
          <TableHead columns={['Name', 'Network', 'IPv4', 'MAC', 'VLAN', num('Received'), num('Sent')]} />
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
