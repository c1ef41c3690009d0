import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Image, Operation, PullImage } from '../api/schema/index.js';
import { api } from './api.js';
import { namedField, withoutField } from './field-errors.js';
import { formatAgo, formatBytes } from './format.js';
import type { LiveState, LiveStore } from './live.js';
import {
  ConfirmDialog,
  ErrorNote,
  Field,
  FormDialog,
  fieldAttrs,
  Notice,
  num,
  OperationProgress,
  PageHead,
  RowAction,
  RowError,
  TableHead,
  TypeBadge,
  useDeletes,
  useForm,
  useList,
} from './ui.js';

/** What the pull dialog offers, per image type (the daemon's pullable sources). */
const SOURCES: Record<Image['type'], { value: string; label: string }[]> = {
  vm: [{ value: 'debian', label: 'debian — Debian with its kernel, for VMs (downloads about 100 MiB)' }],
  container: [
    { value: 'busybox', label: "busybox — the host's static busybox, built in a second" },
    { value: 'debian', label: 'debian — a minimal Debian root file system (about a minute)' },
  ],
};

/** How long a finished pull's full bar stays on the page before it goes away. */
const PULL_DONE_LINGER_MS = 5000;

/** The image pulls started on this page are the operations of kind image.pull. */
const isPull = (o: Operation) => o.kind === 'image.pull';

/**
 * The images page: every image in the store (type, distribution, architecture, size, kernel, age); pull one (an
 * operation whose progress bar follows the event stream); delete one (asks first; a refusal is shown at its row).
 */
export function ImagesPage({ live, store }: { live: LiveState; store: LiveStore }) {
  const [pulling, setPulling] = useState(false);
  const [pulls, setPulls] = useState<string[]>([]);
  // The list is read again whenever a pull starts or ends (from this page or elsewhere).
  const pullKey = live.operations
    .filter(isPull)
    .map((o) => `${o.id}:${o.status}`)
    .join(',');
  const { items: images, error: loadError, load } = useList<Image>('/1.0/images', 'images', [pullKey]);
  const { deleting, setDeleting, remove, ask, errorAt, notice, setNotice } = useDeletes<Image>((i) => i.name, load);

  const mine = live.operations.filter((o) => pulls.includes(o.id));
  const others = live.operations.filter((o) => isPull(o) && o.status === 'running' && !pulls.includes(o.id));
  // A pull that succeeded shows its full bar a few seconds, then leaves (its image is in the list by then).
  const succeeded = mine
    .filter((o) => o.status === 'success')
    .map((o) => o.id)
    .join(',');
  useEffect(() => {
    if (succeeded === '') return;
    const ids = succeeded.split(',');
    const timer = setTimeout(() => setPulls((p) => p.filter((id) => !ids.includes(id))), PULL_DONE_LINGER_MS);
    return () => clearTimeout(timer);
  }, [succeeded]);

  return (
    <>
      <PageHead title="Images">
        <button
          type="button"
          class="btn btn-primary"
          onClick={() => {
            setNotice(null);
            setPulling(true);
          }}
        >
          Pull image
        </button>
      </PageHead>
      <ErrorNote message={loadError} />
      <Notice message={notice} />
      {mine.length + others.length > 0 ? (
        <section class="op-list" aria-label="Image pulls">
          {[...mine, ...others].map((op) =>
            op.status === 'running' || op.status === 'success' ? (
              <OperationProgress key={op.id} op={op} subject={op.resource.replace('/1.0/images/', '')} />
            ) : (
              <ErrorNote
                key={op.id}
                message={`The pull of ${op.resource.replace('/1.0/images/', '')} failed: ${op.errorMessage ?? op.status}`}
              />
            ),
          )}
        </section>
      ) : null}
      {images === null && !loadError ? <p class="muted">Loading…</p> : null}
      {images !== null && images.length === 0 ? (
        <div class="card empty">
          <p>No images yet. VMs boot from a VM image; containers start from a container image.</p>
          <button type="button" class="btn btn-primary" onClick={() => setPulling(true)}>
            Pull the first one
          </button>
        </div>
      ) : null}
      {images !== null && images.length > 0 ? (
        <div class="card table-card">
          <table class="table responsive image-table">
            <TableHead columns={['Name', 'Type', 'Distribution', 'Arch', num('Size'), 'Kernel', 'Created', '']} />
            <tbody>
              {images.map((img) => (
                <Fragment key={img.name}>
                  <tr data-image={img.name} data-type={img.type}>
                    <th scope="row" data-label="Name" class="mono strong">
                      {img.name}
                    </th>
                    <td data-label="Type">
                      <TypeBadge type={img.type} />
                    </td>
                    <td data-label="Distribution">
                      {img.distribution} {img.release}
                    </td>
                    <td data-label="Arch" class="mono">
                      {img.arch}
                    </td>
                    <td data-label="Size" class="num">
                      {formatBytes(img.sizeBytes)}
                    </td>
                    <td data-label="Kernel" class="mono">
                      {img.type === 'vm' ? img.kernelVersion : <span class="muted">the host's</span>}
                    </td>
                    <td data-label="Created">
                      <time dateTime={img.createdAt} title={img.createdAt}>
                        {formatAgo(img.createdAt)}
                      </time>
                    </td>
                    <td class="row-actions">
                      <RowAction label="Delete" of={img.name} danger onClick={() => ask(setDeleting, img)} />
                    </td>
                  </tr>
                  <RowError message={errorAt(img)} columns={8} />
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {pulling ? (
        <PullDialog
          onClose={() => setPulling(false)}
          onStarted={(op) => {
            setPulling(false);
            store.addOperation(op);
            setPulls((p) => [op.id, ...p]);
          }}
        />
      ) : null}
      {deleting ? (
        <ConfirmDialog
          title={`Delete image ${deleting.name}?`}
          action="Delete"
          onCancel={() => setDeleting(null)}
          onConfirm={() => remove(deleting, 'Image', `/1.0/images/${encodeURIComponent(deleting.name)}`)}
        >
          Its files are removed from the image store; pulling it again builds it anew. An image an instance uses is
          kept.
        </ConfirmDialog>
      ) : null}
    </>
  );
}

type PullField = 'type' | 'source';

/** The pull dialog: the image type, then what to pull of that type; the pull runs as an operation. */
function PullDialog({ onClose, onStarted }: { onClose: () => void; onStarted: (op: Operation) => void }) {
  const { form, setForm, errors, general, busy, set, send } = useForm<{ type: string; source: string }, PullField>({
    type: 'container',
    source: 'busybox',
  });
  const type = form.type as Image['type'];
  const submit = (e: Event) => {
    e.preventDefault();
    const body: PullImage = { source: form.source, type };
    void send(
      {},
      async () => onStarted(await api<Operation>('POST', '/1.0/images', body)),
      (msg) => namedField(msg, ['type', 'source'] as const),
      withoutField,
    );
  };
  return (
    <FormDialog
      titleId="pull-title"
      title="Pull image"
      intro="The image is built on this host from the distribution's packages; its progress shows on the page."
      general={general}
      busy={busy}
      submit="Pull"
      busyLabel="Starting…"
      onSubmit={submit}
      onClose={onClose}
    >
      <fieldset class="segmented" aria-describedby={errors.type ? 'pull-type-err' : undefined}>
        <legend class="visually-hidden">Type</legend>
        {(['vm', 'container'] as const).map((t) => (
          <label key={t} class={type === t ? 'checked' : undefined}>
            <input
              type="radio"
              name="pull-type"
              value={t}
              checked={type === t}
              onChange={() => setForm({ type: t, source: SOURCES[t][0]?.value ?? '' })}
            />
            {t === 'vm' ? 'VM image' : 'Container image'}
          </label>
        ))}
      </fieldset>
      <div class="form-grid form-grid-one">
        <Field id="pull-source" label="Source" error={errors.source ?? errors.type}>
          <select {...fieldAttrs('pull-source', errors.source)} value={form.source} onChange={set('source')} autofocus>
            {SOURCES[type].map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </Field>
      </div>
    </FormDialog>
  );
}
