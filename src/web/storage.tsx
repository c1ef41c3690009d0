import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { CopyVolume, CreateVolume, Operation, StoragePool, StorageVolume } from '../api/schema/index.js';
import { api, messageOf } from './api.js';
import { namedField, withoutField } from './field-errors.js';
import { formatBytes } from './format.js';
import type { LiveState, LiveStore } from './live.js';
import { SnapshotPanel } from './snapshots.js';
import {
  ConfirmDialog,
  ErrorNote,
  Field,
  FormDialog,
  fieldAttrs,
  Meter,
  Notice,
  num,
  PageHead,
  RowAction,
  RowError,
  RunningOperations,
  TableHead,
  useDeletes,
  useForm,
} from './ui.js';

type VolField = 'name' | 'size' | 'format';
const VOL_FIELDS: readonly VolField[] = ['name', 'size', 'format'];

/** A pool with its volumes (null while they load). */
interface PoolView {
  pool: StoragePool;
  volumes: StorageVolume[] | null;
  error: string | null;
}

/** Who uses a volume, in plain words: the processes holding it open (VMs, copies) and the clones based on it. */
function usedBy(v: StorageVolume): string {
  const parts = v.users.map((u) => `process ${u.pid} (${u.mode === 'rw' ? 'read-write' : 'read-only'})`);
  if (v.dependents.length > 0) parts.push(`clone${v.dependents.length === 1 ? '' : 's'} ${v.dependents.join(', ')}`);
  return parts.length === 0 ? '—' : parts.join('; ');
}

/** The API path prefix of a pool's volumes (operations on them name it as their resource). */
const volumesPath = (pool: string) => `/1.0/storage-pools/${pool}/volumes/`;

/**
 * The storage page: each pool with its figures and volumes; create, copy (an operation with a progress bar) and
 * delete volumes, and take, revert and delete their snapshots.
 */
export function StoragePage({ live, store }: { live: LiveState; store: LiveStore }) {
  const [pools, setPools] = useState<PoolView[] | null>(null);
  const [copying, setCopying] = useState<StorageVolume | null>(null);
  const [openSnaps, setOpenSnaps] = useState<string | null>(null);
  const [started, setStarted] = useState<string[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [creatingIn, setCreatingIn] = useState<string | null>(null);

  const load = async () => {
    try {
      const list = await api<StoragePool[]>('GET', '/1.0/storage-pools');
      const views = await Promise.all(
        list.map(async (pool): Promise<PoolView> => {
          try {
            const vols = await api<StorageVolume[]>(
              'GET',
              `/1.0/storage-pools/${encodeURIComponent(pool.name)}/volumes`,
            );
            return { pool, volumes: vols.sort((a, b) => a.name.localeCompare(b.name)), error: null };
          } catch (err) {
            return { pool, volumes: null, error: `Its volumes could not be listed: ${messageOf(err)}` };
          }
        }),
      );
      setPools(views);
      setLoadError(null);
    } catch (err) {
      setLoadError(`The storage pools could not be listed: ${messageOf(err)}`);
    }
  };
  // Volumes change when an operation on them ends (a copy): the list is read again then.
  const running = live.operations
    .filter((o) => o.status === 'running' && o.resource.startsWith('/1.0/storage-pools/'))
    .map((o) => o.id)
    .join(',');
  useEffect(() => {
    load();
  }, [running]);
  const { deleting, setDeleting, remove, ask, errorAt, notice, setNotice } = useDeletes<StorageVolume>(
    (v) => `${v.pool}/${v.name}`,
    load,
  );
  const failed = live.operations.filter((o) => started.includes(o.id) && o.status === 'failure');

  return (
    <>
      <PageHead title="Storage" />
      <ErrorNote message={loadError} />
      <Notice message={notice} />
      {pools === null && !loadError ? <p class="muted">Loading…</p> : null}
      {pools?.map(({ pool, volumes, error }) => (
        <section class="card pool-card" key={pool.name} data-pool={pool.name} aria-labelledby={`pool-${pool.name}`}>
          <div class="card-head">
            <h2 id={`pool-${pool.name}`}>
              Pool <span class="mono">{pool.name}</span>
            </h2>
            <button
              type="button"
              class="btn btn-primary"
              onClick={() => {
                setNotice(null);
                setCreatingIn(pool.name);
              }}
            >
              New volume
            </button>
          </div>
          <div class="pool-figures">
            <span>
              <span class="muted">Type</span> {pool.type}
            </span>
            <span>
              <span class="muted">Volumes</span> {pool.volumes}
            </span>
            <span>
              <span class="muted">Allocated</span> {formatBytes(pool.allocationBytes)}
            </span>
            {pool.availableBytes !== null ? (
              <span>
                <span class="muted">Free</span> {formatBytes(pool.availableBytes)}
              </span>
            ) : null}
            <span class="mono small muted pool-path">{pool.path}</span>
          </div>
          {pool.availableBytes !== null ? (
            <Meter
              value={pool.allocationBytes}
              max={pool.allocationBytes + pool.availableBytes}
              label={`pool ${pool.name} space used`}
            />
          ) : null}
          <ErrorNote message={error} />
          <RunningOperations
            operations={live.operations}
            filter={(o) => o.resource.startsWith(volumesPath(pool.name))}
            title={`Running operations of pool ${pool.name}`}
          />
          {failed
            .filter((o) => o.resource.startsWith(volumesPath(pool.name)))
            .map((o) => (
              <ErrorNote
                key={o.id}
                message={`Volume ${o.resource.slice(volumesPath(pool.name).length)} was not made: ${o.errorMessage ?? 'the operation failed'}`}
              />
            ))}
          {volumes !== null && volumes.length === 0 ? <p class="muted">No volumes in this pool yet.</p> : null}
          {volumes !== null && volumes.length > 0 ? (
            <table class="table responsive volume-table">
              <TableHead columns={['Name', 'Format', num('Size'), num('Allocated'), 'Used by', '']} />
              <tbody>
                {volumes.map((v) => {
                  const key = `${v.pool}/${v.name}`;
                  return (
                    <Fragment key={key}>
                      <tr data-volume={v.name}>
                        <th scope="row" data-label="Name" class="mono strong">
                          {v.name}
                        </th>
                        <td data-label="Format">{v.format}</td>
                        <td data-label="Size" class="num">
                          {formatBytes(v.capacityBytes)}
                        </td>
                        <td data-label="Allocated" class="num">
                          {formatBytes(v.allocationBytes)}
                        </td>
                        <td data-label="Used by" class="wrap">
                          {usedBy(v)}
                        </td>
                        <td class="row-actions">
                          <button
                            type="button"
                            class="btn btn-small"
                            aria-expanded={openSnaps === key}
                            aria-controls={`snaps-${v.pool}-${v.name}`}
                            aria-label={`Snapshots of ${v.name}${v.snapshotCount > 0 ? ` (${v.snapshotCount})` : ''}`}
                            onClick={() => setOpenSnaps(openSnaps === key ? null : key)}
                          >
                            Snapshots{v.snapshotCount > 0 ? ` (${v.snapshotCount})` : ''}
                          </button>
                          <RowAction label="Copy" of={v.name} onClick={() => ask(setCopying, v)} />
                          <RowAction label="Delete" of={v.name} danger onClick={() => ask(setDeleting, v)} />
                        </td>
                      </tr>
                      <RowError message={errorAt(v)} columns={6} />
                      {openSnaps === key ? (
                        <tr class="row-panel" id={`snaps-${v.pool}-${v.name}`}>
                          <td colSpan={6}>
                            <SnapshotPanel volume={v} onChanged={load} />
                          </td>
                        </tr>
                      ) : null}
                    </Fragment>
                  );
                })}
              </tbody>
            </table>
          ) : null}
        </section>
      ))}
      {creatingIn ? (
        <CreateVolumeDialog
          pool={creatingIn}
          onClose={() => setCreatingIn(null)}
          onCreated={(v) => {
            setCreatingIn(null);
            setNotice(`Volume ${v.name} was created.`);
            load();
          }}
        />
      ) : null}
      {copying ? (
        <CopyVolumeDialog
          volume={copying}
          onClose={() => setCopying(null)}
          onStarted={(op) => {
            setCopying(null);
            store.addOperation(op);
            setStarted((s) => [...s, op.id]);
          }}
        />
      ) : null}
      {deleting ? (
        <ConfirmDialog
          title={`Delete volume ${deleting.name}?`}
          action="Delete"
          onCancel={() => setDeleting(null)}
          onConfirm={() =>
            remove(
              deleting,
              'Volume',
              `/1.0/storage-pools/${encodeURIComponent(deleting.pool)}/volumes/${encodeURIComponent(deleting.name)}`,
            )
          }
        >
          Its data is deleted{deleting.snapshotCount > 0 ? `, with its ${deleting.snapshotCount} snapshot(s)` : ''}.
          This cannot be undone.
        </ConfirmDialog>
      ) : null}
    </>
  );
}

/** The create-volume dialog: name, size, format; the daemon's messages are shown at their field. */
function CreateVolumeDialog({
  pool,
  onClose,
  onCreated,
}: {
  pool: string;
  onClose: () => void;
  onCreated: (v: StorageVolume) => void;
}) {
  const { form, errors, general, busy, set, send } = useForm<{ name: string; size: string; format: string }, VolField>({
    name: '',
    size: '1G',
    format: 'qcow2',
  });
  const submit = (e: Event) => {
    e.preventDefault();
    const local: Partial<Record<VolField, string>> = {};
    if (!form.name.trim()) local.name = 'Give the volume a name.';
    if (!form.size.trim()) local.size = 'Enter a size such as 1G or 512M.';
    const body: CreateVolume = {
      name: form.name.trim(),
      size: form.size.trim(),
      format: form.format as CreateVolume['format'],
    };
    void send(
      local,
      async () =>
        onCreated(await api<StorageVolume>('POST', `/1.0/storage-pools/${encodeURIComponent(pool)}/volumes`, body)),
      (msg) => namedField(msg, VOL_FIELDS) ?? (/already exists/.test(msg) ? 'name' : undefined),
      withoutField,
    );
  };
  return (
    <FormDialog
      titleId="vol-create-title"
      title="New volume"
      intro={
        <>
          In pool <span class="mono">{pool}</span>
        </>
      }
      general={general}
      busy={busy}
      onSubmit={submit}
      onClose={onClose}
    >
      <div class="form-grid">
        <Field id="vol-name" label="Name" error={errors.name}>
          <input
            {...fieldAttrs('vol-name', errors.name)}
            value={form.name}
            onInput={set('name')}
            autofocus
            autocomplete="off"
          />
        </Field>
        <Field id="vol-size" label="Size" error={errors.size} hint="e.g. 512M, 4G">
          <input {...fieldAttrs('vol-size', errors.size)} value={form.size} onInput={set('size')} />
        </Field>
        <Field id="vol-format" label="Format" error={errors.format}>
          <select {...fieldAttrs('vol-format', errors.format)} value={form.format} onChange={set('format')}>
            <option value="qcow2">qcow2 (grows as written, snapshots)</option>
            <option value="raw">raw (sparse file)</option>
          </select>
        </Field>
      </div>
    </FormDialog>
  );
}

/** The copy dialog: the new volume's name and format; the copy runs as an operation shown with its progress. */
function CopyVolumeDialog({
  volume,
  onClose,
  onStarted,
}: {
  volume: StorageVolume;
  onClose: () => void;
  onStarted: (op: Operation) => void;
}) {
  const { form, errors, general, busy, set, send } = useForm<{ name: string; format: string }, 'name'>({
    name: `${volume.name}-copy`,
    format: volume.format,
  });
  const submit = (e: Event) => {
    e.preventDefault();
    const body: CopyVolume = { name: form.name.trim(), format: form.format as CopyVolume['format'] };
    const path = `/1.0/storage-pools/${encodeURIComponent(volume.pool)}/volumes/${encodeURIComponent(volume.name)}/copy`;
    void send(
      form.name.trim() ? {} : { name: 'Give the copy a name.' },
      async () => onStarted(await api<Operation>('POST', path, body)),
      (msg) => namedField(msg, ['name'] as const) ?? (/already exists/.test(msg) ? 'name' : undefined),
      withoutField,
    );
  };
  return (
    <FormDialog
      titleId="vol-copy-title"
      title="Copy volume"
      intro={
        <>
          A standalone copy of <span class="mono">{volume.name}</span> ({formatBytes(volume.capacityBytes)}) in pool{' '}
          <span class="mono">{volume.pool}</span>
        </>
      }
      general={general}
      busy={busy}
      submit="Copy"
      busyLabel="Starting…"
      onSubmit={submit}
      onClose={onClose}
    >
      <div class="form-grid">
        <Field id="copy-name" label="New name" error={errors.name}>
          <input
            {...fieldAttrs('copy-name', errors.name)}
            value={form.name}
            onInput={set('name')}
            autofocus
            autocomplete="off"
          />
        </Field>
        <Field id="copy-format" label="Format">
          <select id="copy-format" value={form.format} onChange={set('format')}>
            <option value="qcow2">qcow2</option>
            <option value="raw">raw</option>
          </select>
        </Field>
      </div>
    </FormDialog>
  );
}
