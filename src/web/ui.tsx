import type { ComponentChildren, RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Instance, Operation } from '../api/schema/index.js';
import { api, messageOf } from './api.js';
import { formatBytes, plainAction } from './format.js';

/** Human words for an instance status. */
export const STATUS_LABEL: Record<Instance['status'], string> = {
  running: 'Running',
  stopped: 'Stopped',
  starting: 'Starting',
  stopping: 'Stopping',
  paused: 'Paused',
  failed: 'Failed',
};

/** A coloured badge for an instance status. */
export function StateBadge({ status }: { status: Instance['status'] }) {
  return (
    <span class={`badge badge-${status}`} data-status={status}>
      <span class="dot" aria-hidden="true" />
      {STATUS_LABEL[status]}
    </span>
  );
}

/** What kind of instance it is, in words. */
export const TYPE_LABEL: Record<Instance['type'], string> = { vm: 'VM', container: 'Container', sandbox: 'Sandbox' };

/** A quiet badge for an instance's type. */
export function TypeBadge({ type }: { type: Instance['type'] }) {
  return (
    <span class={`type-badge type-${type}`} data-type={type}>
      {TYPE_LABEL[type]}
    </span>
  );
}

/** A horizontal meter: `value` of `max`, with a label. */
export function Meter({ value, max, label }: { value: number; max: number; label: string }) {
  const pct = max > 0 ? Math.min(100, Math.max(0, (value / max) * 100)) : 0;
  return (
    // biome-ignore lint/a11y/useSemanticElements: a styled bar; a native <meter> cannot be styled alike everywhere
    <div class="meter" role="meter" aria-valuemin={0} aria-valuemax={max} aria-valuenow={value} aria-label={label}>
      <div class={`meter-fill${pct > 85 ? ' meter-high' : ''}`} style={{ width: `${pct}%` }} />
    </div>
  );
}

/** An error shown where the user acted. */
export function ErrorNote({ message }: { message: string | null | undefined }) {
  if (!message) return null;
  return (
    <p class="error-note" role="alert">
      {message}
    </p>
  );
}

/** A short confirmation of what was just done, read out by screen readers. */
export function Notice({ message }: { message: string | null | undefined }) {
  if (!message) return null;
  return (
    <p class="notice" role="status">
      {message}
    </p>
  );
}

/** A table row under the row an action failed on, with the refusal in plain words. */
export function RowError({ message, columns }: { message: string | null | undefined; columns: number }) {
  if (!message) return null;
  return (
    <tr class="row-error">
      <td colSpan={columns}>
        <ErrorNote message={message} />
      </td>
    </tr>
  );
}

/** A small button in a table row, named for screen readers with the row's subject (`Delete vol1`). */
export function RowAction({
  label,
  of,
  danger,
  onClick,
}: {
  label: string;
  of: string;
  danger?: boolean;
  onClick: () => void;
}) {
  return (
    <button
      type="button"
      class={`btn btn-small${danger ? ' btn-danger' : ''}`}
      aria-label={`${label} ${of}`}
      onClick={onClick}
    >
      {label}
    </button>
  );
}

/** A column of a table head: its title, right-aligned when `num`; `''` is a row's actions column (a hidden title). */
export type Column = string | { title: string; num: true };

/** A table's head row. */
export function TableHead({ columns }: { columns: Column[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c) =>
          c === '' ? (
            <th key="actions" scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          ) : typeof c === 'string' ? (
            <th key={c} scope="col">
              {c}
            </th>
          ) : (
            <th key={c.title} scope="col" class="num">
              {c.title}
            </th>
          ),
        )}
      </tr>
    </thead>
  );
}

/** A right-aligned column. */
export const num = (title: string): Column => ({ title, num: true });

/**
 * A list read from `path` (sorted by name) and read again when `deps` change; the error says what could not be
 * listed (`what`, e.g. `networks`).
 */
export function useList<T extends { name: string }>(path: string, what: string, deps: unknown[]) {
  const [items, setItems] = useState<T[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    api<T[]>('GET', path).then(
      (list) => {
        setItems(list.sort((a, b) => a.name.localeCompare(b.name)));
        setError(null);
      },
      (err) => setError(`The ${what} could not be listed: ${messageOf(err)}`),
    );
  useEffect(() => {
    void load();
  }, deps);
  return { items, error, load };
}

/**
 * Deleting from a list: the item a confirmation asks about, the refusal shown at the row it was asked from, and a
 * notice of the last change; the list is read again after each attempt.
 */
export function useDeletes<T extends { name: string }>(keyOf: (t: T) => string, load: () => Promise<unknown>) {
  const [deleting, setDeleting] = useState<T | null>(null);
  const [rowError, setRowError] = useState<{ key: string; message: string } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  /** Deletes `item` (`DELETE path`); `noun` names its kind in the notice (`Network lan0 was deleted.`). */
  const remove = async (item: T, noun: string, path: string) => {
    setDeleting(null);
    setRowError(null);
    try {
      await api('DELETE', path);
      setNotice(`${noun} ${item.name} was deleted.`);
    } catch (err) {
      setRowError({ key: keyOf(item), message: `${item.name} was not deleted: ${messageOf(err)}` });
    }
    await load();
  };
  /** Opens a dialog about `item` with `open` (the notice of the last change goes). */
  const ask = (open: (item: T) => void, item: T) => {
    setNotice(null);
    open(item);
  };
  /** The refusal to show under `item`'s row, if any. */
  const errorAt = (item: T) => (rowError?.key === keyOf(item) ? rowError.message : null);
  return { deleting, setDeleting, remove, ask, errorAt, notice, setNotice };
}

/** A page heading with optional actions on its right. */
export function PageHead({ title, children }: { title: ComponentChildren; children?: ComponentChildren }) {
  return (
    <div class="page-head">
      <h1>{title}</h1>
      {children ? <div class="page-actions">{children}</div> : null}
    </div>
  );
}

/** An operation: its kind, phase and progress (a bar when the size is known; a full bar once it succeeded). */
export function OperationProgress({ op, subject }: { op: Operation; subject?: string }) {
  const p = op.progress;
  const done = op.status === 'success';
  const known = done || (p !== null && p.totalBytes > 0);
  const pct = done ? 100 : known && p ? Math.round((p.doneBytes / p.totalBytes) * 100) : 0;
  const action = plainAction(op.kind);
  const phase = !done && p?.phase && p.phase !== op.kind ? ` — ${p.phase}` : '';
  const what = subject ? ` of ${subject}` : '';
  const label = `${action.charAt(0).toUpperCase()}${action.slice(1)}${what}${done ? ' done' : phase}`;
  return (
    <div class="op-progress" data-operation={op.id} data-kind={op.kind} data-status={op.status}>
      <span class="op-label">
        {done ? <span class="op-done" aria-hidden="true" /> : <span class="spinner" aria-hidden="true" />}
        <span class="op-text">{label}</span>
        <span class="op-figures">
          {known ? (
            <>
              {p && p.totalBytes > 0 ? (
                <span class="op-bytes">
                  {p.unit === 'steps'
                    ? `${done ? p.totalBytes : p.doneBytes} of ${p.totalBytes}`
                    : `${formatBytes(done ? p.totalBytes : p.doneBytes)} of ${formatBytes(p.totalBytes)}`}
                </span>
              ) : null}
              <strong class="op-pct">{pct}%</strong>
            </>
          ) : (
            '…'
          )}
        </span>
      </span>
      <div
        class={`progress${known ? '' : ' progress-indeterminate'}${done ? ' progress-done' : ''}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={known ? pct : undefined}
      >
        <div class="progress-fill" style={known ? { width: `${pct}%` } : undefined} />
      </div>
    </div>
  );
}

/** The running operations `filter` selects, each with its progress bar; nothing when none runs. */
export function RunningOperations({
  operations,
  filter,
  title,
}: {
  operations: Operation[];
  filter: (op: Operation) => boolean;
  title?: string;
}) {
  const ops = operations.filter((o) => o.status === 'running' && filter(o));
  if (ops.length === 0) return null;
  return (
    <section class="op-list" aria-label={title ?? 'Running operations'}>
      {ops.map((op) => (
        <OperationProgress key={op.id} op={op} />
      ))}
    </section>
  );
}

/** What Tab can reach inside a dialog. */
const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Keeps Tab and Shift+Tab cycling inside `dialog` (a modal dialog otherwise lets focus out to the browser). */
function trapTab(e: KeyboardEvent, dialog: HTMLDialogElement): void {
  if (e.key !== 'Tab') return;
  const items = [...dialog.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null);
  const first = items[0];
  const last = items[items.length - 1];
  if (!first || !last) return;
  const active = document.activeElement;
  if (e.shiftKey && (active === first || !dialog.contains(active))) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && (active === last || !dialog.contains(active))) {
    e.preventDefault();
    first.focus();
  }
}

/**
 * A modal dialog titled by the element with id `titleId`; Escape calls `onClose` instead of closing it behind the
 * page's back, so the page's state stays the one source of truth. Tab cycles inside it; when it closes, the focus
 * goes back to where it was when it opened.
 */
export function Modal({
  dialogRef,
  titleId,
  wide,
  onClose,
  children,
}: {
  dialogRef: RefObject<HTMLDialogElement | null>;
  titleId: string;
  wide?: boolean;
  onClose: () => void;
  children: ComponentChildren;
}) {
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    return () => {
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  return (
    <dialog
      ref={dialogRef}
      class={wide ? 'dialog dialog-wide' : 'dialog'}
      aria-labelledby={titleId}
      onKeyDown={(e) => {
        if (dialogRef.current) trapTab(e, dialogRef.current);
      }}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      {children}
    </dialog>
  );
}

/** A ref for a `<dialog>` that is shown as a modal once it is mounted. */
export function useModalRef(): RefObject<HTMLDialogElement | null> {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return ref;
}

/** The values of a form, as typed (text, or a checkbox's state). */
type FormValues = Record<string, string | boolean>;

/**
 * A form's state: its values, the error shown at each field, an error for the whole form and whether it is being
 * sent. `send` shows the errors found in the browser, or else runs the request; an API error is shown at the field
 * `fieldOf` names (without its `invalid <field>:` prefix when `strip` does that), else below the form.
 */
export function useForm<V extends FormValues, K extends string>(initial: V | (() => V)) {
  const [form, setForm] = useState<V>(initial);
  const [errors, setErrors] = useState<Partial<Record<K, string>>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** An input handler for value `k` that also clears the error shown at it. */
  const set = (k: keyof V & string) => (e: Event) => {
    const t = e.target as HTMLInputElement;
    const value = t.type === 'checkbox' ? t.checked : t.value;
    setForm((f) => ({ ...f, [k]: value }));
    setErrors((x) => (k in x ? { ...x, [k]: undefined } : x));
  };
  const send = async (
    local: Partial<Record<K, string>>,
    call: () => Promise<void>,
    fieldOf: (message: string) => K | undefined,
    strip: (message: string) => string,
  ): Promise<void> => {
    setGeneral(null);
    setErrors(local);
    if (Object.keys(local).length > 0) return;
    setBusy(true);
    try {
      await call();
    } catch (err) {
      const msg = messageOf(err);
      const field = fieldOf(msg);
      if (field) setErrors({ [field]: strip(msg) } as Partial<Record<K, string>>);
      else setGeneral(msg);
    } finally {
      setBusy(false);
    }
  };
  return { form, setForm, errors, setErrors, general, setGeneral, busy, set, send };
}

/**
 * A modal form: its title, fields, the error that belongs to no field, and Cancel beside the submit button (which
 * reads `busyLabel` while the request runs). Escape is Cancel.
 */
export function FormDialog({
  titleId,
  title,
  intro,
  wide,
  general,
  busy,
  submit = 'Create',
  busyLabel = 'Creating…',
  onSubmit,
  onClose,
  children,
}: {
  titleId: string;
  title: string;
  intro?: ComponentChildren;
  wide?: boolean;
  general: string | null;
  busy: boolean;
  /** The submit button's words, and while the request runs (default Create, Creating…). */
  submit?: string;
  busyLabel?: string;
  onSubmit: (e: Event) => void;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useModalRef();
  return (
    <Modal dialogRef={ref} titleId={titleId} wide={wide ?? false} onClose={onClose}>
      <form onSubmit={onSubmit} noValidate>
        <h2 id={titleId}>{title}</h2>
        {intro ? <p class="muted small">{intro}</p> : null}
        {children}
        <ErrorNote message={general} />
        <div class="dialog-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? busyLabel : submit}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** A modal confirmation: Escape or Cancel keeps things as they are. */
export function ConfirmDialog({
  title,
  children,
  action,
  onCancel,
  onConfirm,
}: {
  title: string;
  children: ComponentChildren;
  action: string;
  onCancel: () => void;
  onConfirm: () => void;
}) {
  const ref = useModalRef();
  return (
    <Modal dialogRef={ref} titleId="confirm-title" onClose={onCancel}>
      <h2 id="confirm-title">{title}</h2>
      <p>{children}</p>
      <div class="dialog-actions">
        <button type="button" class="btn" onClick={onCancel} autofocus>
          Cancel
        </button>
        <button type="button" class="btn btn-danger" onClick={onConfirm}>
          {action}
        </button>
      </div>
    </Modal>
  );
}

/** A form field with its label, and the error (or a hint) below it. */
export function Field({
  id,
  label,
  error,
  hint,
  children,
}: {
  id: string;
  label: string;
  error?: string | undefined;
  hint?: string | undefined;
  children: ComponentChildren;
}) {
  return (
    <div class={`field${error ? ' field-invalid' : ''}`}>
      <label for={id}>{label}</label>
      {children}
      {error ? (
        <span class="field-error" id={`${id}-err`} role="alert">
          {error}
        </span>
      ) : hint ? (
        <span class="field-hint">{hint}</span>
      ) : null}
    </div>
  );
}

/** The accessibility attributes of an input whose error is shown by `Field`. */
export function fieldAttrs(id: string, error: string | undefined) {
  return {
    id,
    'aria-invalid': error ? ('true' as const) : ('false' as const),
    'aria-describedby': error ? `${id}-err` : undefined,
  };
}
