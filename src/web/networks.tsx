import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import type { CreateNetwork, Network } from '../api/schema/index.js';
import { api } from './api.js';
import { namedField, withoutField } from './field-errors.js';
import type { LiveState } from './live.js';
import { TopologyGraph } from './topology.js';
import {
  ConfirmDialog,
  ErrorNote,
  Field,
  FormDialog,
  fieldAttrs,
  Notice,
  PageHead,
  RowAction,
  RowError,
  TableHead,
  useDeletes,
  useForm,
  useList,
} from './ui.js';

type NetField = 'name' | 'subnet' | 'vlan';
const NET_FIELDS: readonly NetField[] = ['name', 'subnet', 'vlan'];

/** The instances attached to a network, by name, from the live instance list (kept current by the event stream). */
function usersOf(live: LiveState, n: Network): string[] {
  return live.instances.filter((i) => i.network === n.name).map((i) => i.name);
}

/**
 * The networks page: the topology graph, the list of networks, create and delete. The list is read again after
 * each change made here and whenever an instance joins, leaves or changes state (as the event stream reports).
 */
export function NetworksPage({ live }: { live: LiveState }) {
  const [creating, setCreating] = useState(false);
  const instanceKey = live.instances.map((i) => `${i.name}:${i.network}:${i.status}`).join(',');
  const { items: networks, error: loadError, load } = useList<Network>('/1.0/networks', 'networks', [instanceKey]);
  const { deleting, setDeleting, remove, ask, errorAt, notice, setNotice } = useDeletes<Network>((n) => n.name, load);

  return (
    <>
      <PageHead title="Networks">
        <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>
          New network
        </button>
      </PageHead>
      <ErrorNote message={loadError} />
      <Notice message={notice} />
      {networks === null && !loadError ? <p class="muted">Loading…</p> : null}
      {networks !== null && networks.length === 0 ? (
        <div class="card empty">
          <p>No networks yet. Instances on the builtin engine can join one.</p>
          <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>
            Create the first one
          </button>
        </div>
      ) : null}
      {networks !== null && networks.length > 0 ? (
        <>
          <section class="card topology-card" aria-labelledby="topology-head">
            <div class="card-head">
              <h2 id="topology-head">Topology</h2>
              <span class="topo-legend small muted">
                <span class="legend-dot legend-running" aria-hidden="true" /> running
                <span class="legend-dot legend-idle" aria-hidden="true" /> idle or stopped
              </span>
            </div>
            <TopologyGraph networks={networks} instances={live.instances} />
          </section>
          <div class="card table-card">
            <table class="table responsive">
              <TableHead columns={['Name', 'Subnet', 'VLAN', 'DHCP', 'NAT', 'Switch', 'Instances', '']} />
              <tbody>
                {networks.map((n) => {
                  const users = usersOf(live, n);
                  return (
                    <Fragment key={n.name}>
                      <tr data-network={n.name}>
                        <th scope="row" data-label="Name" class="mono strong">
                          <a href={`#/networks/${encodeURIComponent(n.name)}`}>{n.name}</a>
                        </th>
                        <td data-label="Subnet" class="mono">
                          {n.subnet ?? '—'}
                        </td>
                        <td data-label="VLAN">{n.vlan ?? '—'}</td>
                        <td data-label="DHCP">{n.dhcp ? 'Yes' : 'No'}</td>
                        <td data-label="NAT">{n.nat ? 'Yes' : 'No'}</td>
                        <td data-label="Switch">
                          <span class={`badge ${n.running ? 'badge-running' : ''}`}>
                            <span class="dot" aria-hidden="true" />
                            {n.running ? 'Running' : 'Idle'}
                          </span>
                        </td>
                        <td data-label="Instances">
                          {users.length === 0
                            ? '—'
                            : users.map((u, k) => (
                                <span key={u}>
                                  {k > 0 ? ', ' : ''}
                                  <a href={`#/instances/${encodeURIComponent(u)}`} class="mono">
                                    {u}
                                  </a>
                                </span>
                              ))}
                        </td>
                        <td class="row-actions">
                          <a
                            class="btn btn-small"
                            href={`#/networks/${encodeURIComponent(n.name)}`}
                            aria-label={`Flow table of ${n.name}`}
                          >
                            Flows
                          </a>
                          <RowAction label="Delete" of={n.name} danger onClick={() => ask(setDeleting, n)} />
                        </td>
                      </tr>
                      <RowError message={errorAt(n)} columns={8} />
                    </Fragment>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
      {creating ? (
        <CreateNetworkDialog
          onClose={() => setCreating(false)}
          onCreated={(n) => {
            setCreating(false);
            setNotice(`Network ${n.name} was created.`);
            load();
          }}
        />
      ) : null}
      {deleting ? (
        <ConfirmDialog
          title={`Delete network ${deleting.name}?`}
          action="Delete"
          onCancel={() => setDeleting(null)}
          onConfirm={() => remove(deleting, 'Network', `/1.0/networks/${encodeURIComponent(deleting.name)}`)}
        >
          Its definition is removed; instances can no longer join it. This cannot be undone.
        </ConfirmDialog>
      ) : null}
    </>
  );
}

/** The create-network dialog: name, subnet, VLAN, DHCP, NAT; the daemon's messages are shown at their field. */
function CreateNetworkDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (n: Network) => void }) {
  const { form, errors, general, busy, set, send } = useForm<
    { name: string; subnet: string; vlan: string; dhcp: boolean; nat: boolean },
    NetField
  >({ name: '', subnet: '', vlan: '', dhcp: true, nat: true });
  const submit = (e: Event) => {
    e.preventDefault();
    const local: Partial<Record<NetField, string>> = {};
    if (!form.name.trim()) local.name = 'Give the network a name.';
    if (form.vlan.trim() && !/^\d+$/.test(form.vlan.trim())) local.vlan = 'A whole number from 1 to 4094.';
    const body: CreateNetwork = { name: form.name.trim(), dhcp: form.dhcp, nat: form.nat };
    if (form.subnet.trim()) body.subnet = form.subnet.trim();
    if (form.vlan.trim()) body.vlan = Number(form.vlan.trim());
    void send(
      local,
      async () => onCreated(await api<Network>('POST', '/1.0/networks', body)),
      (msg) => namedField(msg, NET_FIELDS) ?? (/already exists/.test(msg) ? 'name' : undefined),
      withoutField,
    );
  };
  return (
    <FormDialog
      titleId="net-create-title"
      title="New network"
      wide
      general={general}
      busy={busy}
      onSubmit={submit}
      onClose={onClose}
    >
      <div class="form-grid">
        <Field id="net-name" label="Name" error={errors.name}>
          <input
            {...fieldAttrs('net-name', errors.name)}
            value={form.name}
            onInput={set('name')}
            autofocus
            autocomplete="off"
          />
        </Field>
        <Field id="net-subnet" label="Subnet" error={errors.subnet} hint="e.g. 10.0.1.0/24; empty for a plain switch">
          <input
            {...fieldAttrs('net-subnet', errors.subnet)}
            value={form.subnet}
            onInput={set('subnet')}
            autocomplete="off"
          />
        </Field>
        <Field id="net-vlan" label="VLAN" error={errors.vlan} hint="optional, 1–4094">
          <input {...fieldAttrs('net-vlan', errors.vlan)} value={form.vlan} onInput={set('vlan')} inputMode="numeric" />
        </Field>
      </div>
      <label class="check">
        <input type="checkbox" name="dhcp" checked={form.dhcp} onChange={set('dhcp')} />
        DHCP: the router hands out addresses
      </label>
      <label class="check">
        <input type="checkbox" name="nat" checked={form.nat} onChange={set('nat')} />
        NAT: instances reach the outside through the host
      </label>
    </FormDialog>
  );
}
