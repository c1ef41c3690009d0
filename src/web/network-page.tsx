import { useEffect, useState } from 'preact/hooks';
import type { Network, NetworkFlows } from '../api/schema/index.js';
import { api, messageOf, wsUrl } from './api.js';
import type { LiveState } from './live.js';
import { ErrorNote, num, PageHead, TableHead } from './ui.js';

/** Counters in short form: 1234 → `1.2k`. */
function formatCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/**
 * Follows the flow table of network `name` over its WebSocket: the daemon sends the table at once and again each
 * time a flow or a counter changes. Reconnects after a lost connection.
 */
function useFlows(name: string): { table: NetworkFlows | null; error: string | null; live: boolean } {
  const [table, setTable] = useState<NetworkFlows | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  useEffect(() => {
    let stopped = false;
    let ws: WebSocket | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      ws = new WebSocket(wsUrl(`/1.0/networks/${encodeURIComponent(name)}/flows`));
      ws.onopen = () => setLive(true);
      ws.onmessage = (m) => {
        setTable(JSON.parse(String(m.data)) as NetworkFlows);
        setError(null);
      };
      ws.onclose = (e) => {
        setLive(false);
        if (stopped) return;
        if (e.code === 4404) {
          setError(`The flow table cannot be read: ${e.reason || 'the network is gone'}`);
          return;
        }
        retry = setTimeout(connect, 2000);
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      ws?.close();
    };
  }, [name]);
  return { table, error, live };
}

/** A network: its settings, the instances on it, and its switch's OpenFlow flow table, live. */
export function NetworkPage({ name, live }: { name: string; live: LiveState }) {
  const [net, setNet] = useState<Network | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const flows = useFlows(name);
  const instanceKey = live.instances.map((i) => `${i.name}:${i.network}:${i.status}`).join(',');
  useEffect(() => {
    api<Network>('GET', `/1.0/networks/${encodeURIComponent(name)}`).then(
      (n) => {
        setNet(n);
        setLoadError(null);
      },
      (err) => setLoadError(`Network ${name} could not be read: ${messageOf(err)}`),
    );
  }, [name, instanceKey]);

  const members = live.instances.filter((i) => i.network === name);
  const t = flows.table;
  const target = t?.openflow
    ? `${t.openflow.mode === 'ptcp' ? 'tcp' : 'ptcp'}:${t.openflow.host}:${t.openflow.port}`
    : '';
  return (
    <>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href="#/networks">Networks</a> <span aria-hidden="true">/</span> <span class="mono">{name}</span>
      </nav>
      <PageHead
        title={
          <span class="title-with-badge">
            <span class="mono">{name}</span>
            <span class={`badge ${t?.running ? 'badge-running' : ''}`} data-switch={t?.running ? 'on' : 'off'}>
              <span class="dot" aria-hidden="true" />
              {t === null ? 'Switch…' : t.running ? 'Switch running' : 'Switch idle'}
            </span>
          </span>
        }
      />
      <ErrorNote message={loadError} />
      {net ? (
        <section class="card details" aria-labelledby="net-details">
          <h2 id="net-details">Settings</h2>
          <dl class="dl-wide">
            <dt>Subnet</dt>
            <dd class="mono">{net.subnet ?? '—'}</dd>
            <dt>Gateway</dt>
            <dd class="mono">{net.gateway ?? '—'}</dd>
            <dt>VLAN</dt>
            <dd>{net.vlan ?? '—'}</dd>
            <dt>DHCP</dt>
            <dd>{net.dhcp ? 'Yes' : 'No'}</dd>
            <dt>NAT</dt>
            <dd>{net.nat ? 'Yes' : 'No'}</dd>
            <dt>Router</dt>
            <dd class="mono">{net.router ?? (net.subnet ? 'its own' : '—')}</dd>
            <dt>Instances</dt>
            <dd>
              {members.length === 0
                ? '—'
                : members.map((m, k) => (
                    <span key={m.name}>
                      {k > 0 ? ', ' : ''}
                      <a class="mono" href={`#/instances/${encodeURIComponent(m.name)}`}>
                        {m.name}
                      </a>
                    </span>
                  ))}
            </dd>
          </dl>
        </section>
      ) : null}
      <section class="card table-card flows-card" aria-labelledby="flows-title">
        <div class="card-head card-pad">
          <h2 id="flows-title">Flow table</h2>
          <span class={`conn ${flows.live ? 'conn-live' : 'conn-lost'}`}>
            <span class="dot" aria-hidden="true" />
            <span class="small">{flows.live ? 'Live' : 'Reconnecting'}</span>
          </span>
        </div>
        <ErrorNote message={flows.error} />
        {t === null && !flows.error ? <p class="muted card-pad">Loading…</p> : null}
        {t && !t.running ? (
          <p class="muted card-pad" data-flows="idle">
            No switch serves this network now, so it has no flow table. It starts when an instance on it starts.
          </p>
        ) : null}
        {t?.running ? (
          <>
            <p class="muted small card-pad flows-meta">
              Datapath <span class="mono">{t.datapathId}</span>
              {t.openflow ? (
                <>
                  {' '}
                  · OpenFlow 1.3 {t.openflow.mode === 'ptcp' ? 'listening on' : 'controller at'}{' '}
                  <span class="mono">
                    {t.openflow.host}:{t.openflow.port}
                  </span>
                  {t.openflow.mode === 'ptcp' ? (
                    <>
                      {' '}
                      (<code>ovs-ofctl -O OpenFlow13 dump-flows {target}</code>)
                    </>
                  ) : null}
                </>
              ) : null}
            </p>
            <table class="table responsive flow-table" data-table="flows">
              <TableHead
                columns={[num('Table'), num('Priority'), 'Match', 'Actions', num('Packets'), num('Bytes'), 'Cookie']}
              />
              <tbody>
                {t.flows.map((f, k) => (
                  <tr key={`${f.table}/${f.priority}/${f.match}/${k}`} data-flow-priority={f.priority}>
                    <td data-label="Table" class="num">
                      {f.table}
                    </td>
                    <td data-label="Priority" class="num">
                      {f.priority}
                    </td>
                    <td data-label="Match" class="mono wrap">
                      {f.match || <span class="muted">any</span>}
                    </td>
                    <td data-label="Actions" class="mono wrap">
                      {f.actions || <span class="muted">drop</span>}
                    </td>
                    <td data-label="Packets" class="num">
                      {formatCount(f.packets)}
                    </td>
                    <td data-label="Bytes" class="num">
                      {formatCount(f.bytes)}
                    </td>
                    <td data-label="Cookie" class="mono">
                      {f.cookie}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {t.flows.length === 0 ? <p class="muted card-pad">The table is empty.</p> : null}
          </>
        ) : null}
      </section>
    </>
  );
}
