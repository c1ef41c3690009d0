import { formatAgo, formatBytes } from './format.js';
import type { LiveState } from './live.js';
import { PageHead, StateBadge } from './ui.js';

/** The instance list: state, engine, vCPUs, memory and disk, kept live by the event stream. */
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
          <table class="table responsive">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col">Engine</th>
                <th scope="col" class="num">
                  vCPUs
                </th>
                <th scope="col" class="num">
                  Memory
                </th>
                <th scope="col" class="num">
                  Disk
                </th>
                <th scope="col">Image</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {live.instances.map((i) => (
                <tr key={i.name} data-instance={i.name}>
                  <th scope="row" data-label="Name">
                    <a href={`#/instances/${encodeURIComponent(i.name)}`} class="mono strong">
                      {i.name}
                    </a>
                  </th>
                  <td data-label="State">
                    <StateBadge status={i.status} />
                  </td>
                  <td data-label="Engine">{i.engine}</td>
                  <td data-label="vCPUs" class="num">
                    {i.cpus}
                  </td>
                  <td data-label="Memory" class="num">
                    {formatBytes(i.memoryBytes)}
                  </td>
                  <td data-label="Disk" class="num">
                    {formatBytes(i.diskSizeBytes)}
                  </td>
                  <td data-label="Image">{i.image}</td>
                  <td data-label="Created">
                    <time dateTime={i.createdAt}>{formatAgo(i.createdAt)}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
