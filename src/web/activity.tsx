import type { StrataEvent } from '../api/schema/index.js';
import { formatAgo, formatTime, instanceOf, plainAction } from './format.js';
import type { LiveState } from './live.js';
import { OperationProgress, PageHead } from './ui.js';

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
        const target = instanceOf(String(e.data.resource ?? e.resource));
        return (
          <li key={e.seq} class={`activity-${tone}`}>
            <time dateTime={e.at} title={e.at}>
              {formatTime(e.at)}
            </time>
            <span class="activity-what">
              {target ? (
                <a href={`#/instances/${encodeURIComponent(target)}`} class="mono">
                  {target}
                </a>
              ) : null}{' '}
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
          running.map((op) => (
            <div key={op.id} class="op-row">
              <a href={`#/instances/${encodeURIComponent(instanceOf(op.resource) ?? '')}`} class="mono">
                {instanceOf(op.resource) ?? op.resource}
              </a>
              <OperationProgress op={op} />
            </div>
          ))
        )}
      </section>
      <section class="card" aria-labelledby="act-events">
        <h2 id="act-events">Events</h2>
        <ActivityList events={live.events} />
      </section>
    </>
  );
}
