import { useEffect, useState } from 'preact/hooks';
import type { StorageVolume, VolumeSnapshot } from '../api/schema/index.js';
import { api, messageOf } from './api.js';
import { withoutField } from './field-errors.js';
import { formatAgo, formatBytes } from './format.js';
import { ConfirmDialog, ErrorNote } from './ui.js';

/** A volume's snapshots: take one, and revert to or delete each (both ask first). Errors show in the panel. */
export function SnapshotPanel({ volume, onChanged }: { volume: StorageVolume; onChanged: () => void }) {
  const base = `/1.0/storage-pools/${encodeURIComponent(volume.pool)}/volumes/${encodeURIComponent(volume.name)}/snapshots`;
  const [snaps, setSnaps] = useState<VolumeSnapshot[] | null>(null);
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirm, setConfirm] = useState<{ kind: 'revert' | 'delete'; snap: VolumeSnapshot } | null>(null);
  const raw = volume.format === 'raw';

  const load = async () => {
    try {
      setSnaps(await api<VolumeSnapshot[]>('GET', base));
    } catch (err) {
      setError(`The snapshots could not be listed: ${messageOf(err)}`);
    }
  };
  useEffect(() => {
    if (!raw) void load();
  }, [base]);

  const take = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setNotice(null);
    if (!name.trim()) {
      setNameError('Give the snapshot a name.');
      return;
    }
    setBusy(true);
    try {
      const s = await api<VolumeSnapshot>('POST', base, { name: name.trim() });
      setNotice(`Snapshot ${s.name} was taken.`);
      setName('');
      await load();
      onChanged();
    } catch (err) {
      setNameError(withoutField(messageOf(err)));
    } finally {
      setBusy(false);
    }
  };

  const act = async (kind: 'revert' | 'delete', snap: VolumeSnapshot) => {
    setConfirm(null);
    setError(null);
    setNotice(null);
    setBusy(true);
    try {
      const path = `${base}/${encodeURIComponent(snap.name)}`;
      if (kind === 'revert') await api('POST', `${path}/revert`);
      else await api('DELETE', path);
      setNotice(
        kind === 'revert'
          ? `${volume.name} was reverted to snapshot ${snap.name}.`
          : `Snapshot ${snap.name} was deleted.`,
      );
      await load();
      onChanged();
    } catch (err) {
      const what = kind === 'revert' ? `${volume.name} was not reverted` : `Snapshot ${snap.name} was not deleted`;
      setError(`${what}: ${messageOf(err).replace(/^./, (c) => c.toLowerCase())}`);
    } finally {
      setBusy(false);
    }
  };

  if (raw) {
    return (
      <div class="snap-panel" data-snapshots={volume.name}>
        <p class="muted small">Raw volumes have no snapshots. Copy it as qcow2 to take snapshots of the copy.</p>
      </div>
    );
  }
  return (
    <div class="snap-panel" data-snapshots={volume.name}>
      <form class="snap-form" onSubmit={take} noValidate>
        <label for={`snap-name-${volume.name}`}>New snapshot</label>
        <div class="inline-field">
          <input
            id={`snap-name-${volume.name}`}
            value={name}
            placeholder="e.g. before-upgrade"
            autocomplete="off"
            aria-invalid={nameError ? 'true' : 'false'}
            aria-describedby={nameError ? `snap-name-${volume.name}-err` : undefined}
            onInput={(e) => {
              setName((e.target as HTMLInputElement).value);
              setNameError(null);
            }}
          />
          <button type="submit" class="btn btn-primary btn-small" disabled={busy}>
            Take snapshot
          </button>
        </div>
        {nameError ? (
          <span class="field-error" id={`snap-name-${volume.name}-err`} role="alert">
            {nameError}
          </span>
        ) : null}
      </form>
      <ErrorNote message={error} />
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      {snaps === null && !error ? <p class="muted small">Loading…</p> : null}
      {snaps?.length === 0 ? <p class="muted small">No snapshots yet.</p> : null}
      {snaps && snaps.length > 0 ? (
        <ul class="snap-list">
          {snaps.map((s) => (
            <li key={s.id} data-snapshot={s.name}>
              <span class="mono strong">{s.name}</span>
              <span class="muted small">
                <time dateTime={s.createdAt}>{formatAgo(s.createdAt)}</time> · {formatBytes(s.diskSizeBytes)}
              </span>
              <span class="snap-actions">
                <button
                  type="button"
                  class="btn btn-small"
                  disabled={busy}
                  aria-label={`Revert ${volume.name} to ${s.name}`}
                  onClick={() => setConfirm({ kind: 'revert', snap: s })}
                >
                  Revert
                </button>
                <button
                  type="button"
                  class="btn btn-danger btn-small"
                  disabled={busy}
                  aria-label={`Delete snapshot ${s.name}`}
                  onClick={() => setConfirm({ kind: 'delete', snap: s })}
                >
                  Delete
                </button>
              </span>
            </li>
          ))}
        </ul>
      ) : null}
      {confirm ? (
        <ConfirmDialog
          title={
            confirm.kind === 'revert'
              ? `Revert ${volume.name} to ${confirm.snap.name}?`
              : `Delete snapshot ${confirm.snap.name}?`
          }
          action={confirm.kind === 'revert' ? 'Revert' : 'Delete'}
          onCancel={() => setConfirm(null)}
          onConfirm={() => act(confirm.kind, confirm.snap)}
        >
          {confirm.kind === 'revert'
            ? `Everything written to ${volume.name} since ${confirm.snap.name} was taken is lost. It is refused while a VM uses the volume.`
            : 'The data only this snapshot keeps is freed. This cannot be undone.'}
        </ConfirmDialog>
      ) : null}
    </div>
  );
}
