import { useEffect, useState } from 'preact/hooks';
import type { HostResources, Instance } from '../api/schema/index.js';
import { ActivityList } from './activity.js';
import { api, messageOf } from './api.js';
import { formatBytes } from './format.js';
import type { LiveState } from './live.js';
import { ErrorNote, Meter, PageHead, RunningOperations, STATUS_LABEL } from './ui.js';

/** How often the host meters are re-read while the overview is shown (host load is sampled, not an event). */
const HOST_REFRESH_MS = 5000;

const ORDER: Instance['status'][] = ['running', 'paused', 'starting', 'stopping', 'stopped', 'failed'];

/** The overview: instances by state, the host's CPU and memory, and the recent activity. */
export function Overview({ live, onCreate }: { live: LiveState; onCreate: () => void }) {
  const [host, setHost] = useState<HostResources | null>(null);
  const [hostError, setHostError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    const load = () =>
      api<HostResources>('GET', '/1.0/resources').then(
        (h) => {
          if (!alive) return;
          setHost(h);
          setHostError(null);
        },
        (e) => {
          if (alive) setHostError(messageOf(e));
        },
      );
    void load();
    const t = setInterval(load, HOST_REFRESH_MS);
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, []);

  const counts = new Map<string, number>();
  for (const i of live.instances) counts.set(i.status, (counts.get(i.status) ?? 0) + 1);
  const guestMemory = live.instances
    .filter((i) => i.status === 'running' || i.status === 'paused')
    .reduce((n, i) => n + i.memoryBytes, 0);
  const used = host ? host.memoryTotalBytes - host.memoryAvailableBytes : 0;

  return (
    <>
      <PageHead title="Overview">
        <button type="button" class="btn btn-primary" onClick={onCreate}>
          New instance
        </button>
      </PageHead>
      <div class="grid">
        <section class="card" aria-labelledby="ov-instances">
          <h2 id="ov-instances">Instances</h2>
          <p class="big-number">{live.instances.length}</p>
          <ul class="state-counts">
            {ORDER.filter((s) => counts.get(s) || s === 'running' || s === 'stopped').map((s) => (
              <li key={s}>
                <span class={`dot dot-${s}`} aria-hidden="true" />
                <span>{STATUS_LABEL[s]}</span>
                <strong data-count={s}>{counts.get(s) ?? 0}</strong>
              </li>
            ))}
          </ul>
          <a class="card-link" href="#/instances">
            All instances →
          </a>
        </section>
        <section class="card" aria-labelledby="ov-cpu">
          <h2 id="ov-cpu">Host CPU</h2>
          {host ? (
            <>
              <p class="big-number">
                {host.cpuUsagePercent.toFixed(0)}
                <small>%</small>
              </p>
              <Meter value={host.cpuUsagePercent} max={100} label="host CPU busy" />
              <p class="muted small">
                {host.cpus} CPUs · load {host.loadAverage.map((l) => l.toFixed(2)).join(' ')}
              </p>
            </>
          ) : (
            <p class="muted">{hostError ?? 'Loading…'}</p>
          )}
        </section>
        <section class="card" aria-labelledby="ov-mem">
          <h2 id="ov-mem">Host memory</h2>
          {host ? (
            <>
              <p class="big-number">
                {formatBytes(used)}
                <small> of {formatBytes(host.memoryTotalBytes)}</small>
              </p>
              <Meter value={used} max={host.memoryTotalBytes} label="host memory used" />
              <p class="muted small">
                {formatBytes(host.memoryAvailableBytes)} available · {formatBytes(guestMemory)} given to guests
              </p>
            </>
          ) : (
            <p class="muted">{hostError ?? 'Loading…'}</p>
          )}
        </section>
      </div>
      <ErrorNote message={hostError && host ? hostError : null} />
      <RunningOperations operations={live.operations} filter={() => true} />
      <section class="card" aria-labelledby="ov-activity">
        <div class="card-head">
          <h2 id="ov-activity">Recent activity</h2>
          <a class="card-link" href="#/activity">
            All activity →
          </a>
        </div>
        <ActivityList events={live.events.slice(0, 8)} />
      </section>
    </>
  );
}
