import type { ComponentChildren } from 'preact';
import type { Instance, Operation } from '../api/schema/index.js';
import { plainAction } from './format.js';

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

/** A page heading with optional actions on its right. */
export function PageHead({ title, children }: { title: ComponentChildren; children?: ComponentChildren }) {
  return (
    <div class="page-head">
      <h1>{title}</h1>
      {children ? <div class="page-actions">{children}</div> : null}
    </div>
  );
}

/** A running operation: its kind, phase and progress (a bar when the size is known). */
export function OperationProgress({ op }: { op: Operation }) {
  const p = op.progress;
  const known = p !== null && p.totalBytes > 0;
  const pct = known && p ? Math.round((p.doneBytes / p.totalBytes) * 100) : 0;
  return (
    <div class="op-progress" role="status" data-operation={op.id}>
      <span class="op-label">
        <span class="spinner" aria-hidden="true" />
        {plainAction(op.kind)}
        {p?.phase && p.phase !== op.kind ? ` — ${p.phase}` : ''}
        {known ? ` ${pct}%` : '…'}
      </span>
      <div class={`progress${known ? '' : ' progress-indeterminate'}`}>
        <div class="progress-fill" style={known ? { width: `${pct}%` } : undefined} />
      </div>
    </div>
  );
}
