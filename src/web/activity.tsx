import type { StrataEvent } from '../api/schema/index.js';
import { formatAgo, formatTime, instanceOf, plainAction } from './format.js';
import type { LiveState } from './live.js';
import { OperationProgress, PageHead } from './ui.js';

/** Where a resource is shown in the console, and its short name: an instance, a volume, a network or an image. */
export function resourceLink(resource: string): { href: string | null; label: string } {
  const inst = instanceOf(resource);
  if (inst) return { href: `#/instances/${encodeURIComponent(inst)}`, label: inst };
  const vol = /^\/1\.0\/storage-pools\/([^/]+)\/volumes\/([^/]+)/.exec(resource);
  if (vol) return { href: '#/storage', label: `${decodeURIComponent(vol[1]!)}/${decodeURIComponent(vol[2]!)}` };
  const net = /^\/1\.0\/networks\/([^/]+)/.exec(resource);
  if (net) return { href: `#/networks/${net[1]}`, label: decodeURIComponent(net[1]!) };
  const img = /^\/1\.0\/images\/(.+)/.exec(resource);
  if (img) return { href: null, label: `image ${decodeURIComponent(img[1]!)}` };
  return { href: null, label: resource };
}

/** One line for an event: what happened, to what. */
function describe(e: StrataEvent): { what: string; tone: string } {
  if (e.type === 'operation') {
    const status = String(e.data.status ?? '');
    const kind = plainAction(String(e.data.kind ?? 'operation'));
    const error = e.data.error ? `: ${String(e.data.error)}` : '';
    const tone = status === 'failure' ? 'bad' : status === 'success' ? 'good' : 'neutral';
    const verb = status === 'running' ? 'began' : status === 'success' ? 'done' : status;
    return { what: `${kind} ${verb}${error}`, tone };
  }
  const action = plainAction(String(e.data.action ?? e.type));
  const tone = /fail|error|lost|crash/.test(action) ? 'bad' : 'neutral';
  const why = e.data.reason ? String(e.data.reason) : '';
  const reason = why && !action.includes(why) ? ` (${why})` : '';
  return { what: `${action}${reason}`, tone };
}

/** A list of events, newest first. */
export function ActivityList({ events }: { events: StrataEvent[] }) {
  if (events.length === 0) return <p class="muted">Nothing has happened yet.</p>;
  return (
    <ol class="activity">
      {events.map((e) => {
        const { what, tone } = describe(e);
        const target = resourceLink(String(e.data.resource ?? e.resource));
        return (
          <li key={e.seq} class={`activity-${tone}`}>
            <time dateTime={e.at} title={e.at}>
              {formatTime(e.at)}
            </time>
            <span class="activity-what">
              {target.href ? (
                <a href={target.href} class="mono">
                  {target.label}
                </a>
              ) : (
                <span class="mono">{target.label}</span>
              )}{' '}
              {what}
            </span>
            <span class="muted small activity-ago">{formatAgo(e.at)}</span>
          </li>
        );
      })}
    </ol>
  );
}

/** The operations and events feed. */
export function ActivityPage({ live }: { live: LiveState }) {
  const running = live.operations.filter((o) => o.status === 'running');
  return (
    <>
      <PageHead title="Activity" />
      <section class="card" aria-labelledby="act-ops">
        <h2 id="act-ops">Running operations</h2>
        {running.length === 0 ? (
          <p class="muted">No operation is running.</p>
        ) : (
          running.map((op) => {
            const target = resourceLink(op.resource);
            return (
              <div key={op.id} class="op-row">
                {target.href ? (
                  <a href={target.href} class="mono">
                    {target.label}
                  </a>
                ) : (
                  <span class="mono">{target.label}</span>
                )}
                <OperationProgress op={op} />
              </div>
            );
          })
        )}
      </section>
      <section class="card" aria-labelledby="act-events">
        <h2 id="act-events">Events</h2>
        <ActivityList events={live.events} />
      </section>
    </>
  );
}
