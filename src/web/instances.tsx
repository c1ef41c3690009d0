import type { Instance } from '../api/schema/index.js';
import { formatBytes } from './format.js';
import type { LiveState } from './live.js';
import { num, PageHead, StateBadge, TableHead, TypeBadge } from './ui.js';
import { Sparkline } from './usage.js';

/** The IPv4 addresses of an instance's NICs, from its latest metrics sample (running instances only). */
export function addressesOf(live: LiveState, name: string): string[] {
  const nics = live.metrics[name]?.sample.nics ?? [];
  return nics.flatMap((n) => (n.ipv4 ? [n.ipv4] : []));
}

/** A running instance's CPU or memory over the last two minutes, with the latest figure. */
function LiveCell({ live, inst, what }: { live: LiveState; inst: Instance; what: 'cpu' | 'memory' }) {
  const pts = live.usage[inst.name];
  if (inst.status !== 'running' && inst.status !== 'paused') return <span class="muted">—</span>;
  const last = pts?.[pts.length - 1];
  const values = (pts ?? []).map((p) => (what === 'cpu' ? p.cpuPercent : p.memoryBytes));
  const figure = !last ? '…' : what === 'cpu' ? `${last.cpuPercent.toFixed(0)}%` : formatBytes(last.memoryBytes);
  return (
    <span class="live-cell">
      <Sparkline
        series={[{ values, tone: 'a' }]}
        max={what === 'cpu' ? 100 : inst.memoryBytes}
        label={`${inst.name} ${what === 'cpu' ? 'CPU' : 'memory'} use`}
        height={28}
      />
      <span class="live-figure">{figure}</span>
    </span>
  );
}

/**
 * The instance list: state, type, engine, vCPUs, memory, IP addresses and live CPU and memory, kept current by the
 * event stream (lifecycle events and metrics samples).
 */
export function InstanceList({ live, onCreate }: { live: LiveState; onCreate: () => void }) {
  return (
    <>
      <PageHead title="Instances">
        <button type="button" class="btn btn-primary" onClick={onCreate}>
          New instance
        </button>
      </PageHead>
      {live.instances.length === 0 ? (
        <div class="card empty">
          <p>No instances yet.</p>
          <button type="button" class="btn btn-primary" onClick={onCreate}>
            Create the first one
          </button>
        </div>
      ) : (
        <div class="card table-card">
          <table class="table responsive instance-table">
            <TableHead
              columns={['Name', 'State', 'Type', 'Engine', num('vCPUs'), num('Memory'), 'IPv4', 'CPU', 'Memory use']}
            />
            <tbody>
              {live.instances.map((i) => {
                const ips = addressesOf(live, i.name);
                return (
                  <tr key={i.name} data-instance={i.name}>
                    <th scope="row" data-label="Name">
                      <a href={`#/instances/${encodeURIComponent(i.name)}`} class="mono strong">
                        {i.name}
                      </a>
                      <span class="muted small row-sub">{i.image}</span>
                    </th>
                    <td data-label="State">
                      <StateBadge status={i.status} />
                    </td>
                    <td data-label="Type">
                      <TypeBadge type={i.type} />
                    </td>
                    <td data-label="Engine">{i.engine}</td>
                    <td data-label="vCPUs" class="num">
                      {i.cpus}
                    </td>
                    <td data-label="Memory" class="num">
                      {formatBytes(i.memoryBytes)}
                    </td>
                    <td data-label="IPv4" class="mono" data-ipv4={ips.join(' ')}>
                      {ips.length > 0 ? ips.join(', ') : <span class="muted">—</span>}
                    </td>
                    <td data-label="CPU" class="live" data-live="cpu">
                      <LiveCell live={live} inst={i} what="cpu" />
                    </td>
                    <td data-label="Memory use" class="live" data-live="memory">
                      <LiveCell live={live} inst={i} what="memory" />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
