import { useEffect, useRef, useState } from 'preact/hooks';
import type { Instance, Network } from '../api/schema/index.js';

/** Sizes of the drawing, in CSS pixels (the SVG is drawn 1:1 at the width of its box, so text stays readable). */
const COL = 140;
const GAP = 16;
const NODE_W = 132;
const SWITCH_H = 44;
const INST_H = 30;
const INST_STEP = 40;
const ROUTER_R = 24;
const PAD = 4;

/** A router and the networks it serves; a network without a subnet has no router. */
interface Group {
  router: string | null;
  nets: Network[];
}

/** The router serving a network: the one it names, else its own (only networks with a subnet have one). */
export function routerOf(n: Network): string | null {
  if (!n.subnet) return null;
  return n.router ?? n.name;
}

function groupsOf(networks: Network[]): Group[] {
  const groups: Group[] = [];
  for (const n of networks) {
    const r = routerOf(n);
    const g = r === null ? undefined : groups.find((x) => x.router === r);
    if (g) g.nets.push(n);
    else groups.push({ router: r, nets: [n] });
  }
  return groups;
}

/** Shortens a label to fit a node. */
function fit(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function useWidth(): [preact.RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(800);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setWidth(Math.max(200, Math.floor(el.clientWidth)));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, width];
}

/**
 * The topology graph: one switch per network, the router serving networks with a subnet (shared when they name the
 * same router) above them, and the instances attached to each network below its switch, with VLAN and DHCP/NAT
 * labels. Groups wrap into rows to fit the width of the page.
 */
export function TopologyGraph({ networks, instances }: { networks: Network[]; instances: Instance[] }) {
  const [ref, width] = useWidth();
  const groups = groupsOf(networks);
  const perRow = Math.max(1, Math.floor((width - 2 * PAD + GAP) / (COL + GAP)));
  const attached = (n: Network) => instances.filter((i) => i.network === n.name);

  // Place the groups in rows, left to right (a group wider than a row wraps its columns); then give each row its
  // height, with a band for routers when one of its groups has one; the whole drawing is centred.
  type Slot = { net: Network; group: Group; row: number; col: number };
  const slots: Slot[] = [];
  let row = 0;
  let col = 0;
  for (const g of groups) {
    if (col > 0 && col + g.nets.length > perRow) {
      row++;
      col = 0;
    }
    for (const n of g.nets) {
      if (col >= perRow) {
        row++;
        col = 0;
      }
      slots.push({ net: n, group: g, row, col });
      col++;
    }
  }
  const routerBand = ROUTER_R * 2 + 46;
  const colHeight = (n: Network) => SWITCH_H + 34 + Math.max(1, attached(n).length) * INST_STEP;
  const usedCols = Math.min(perRow, Math.max(1, networks.length));
  const contentW = usedCols * COL + (usedCols - 1) * GAP;
  const drawW = Math.max(width, PAD * 2 + contentW);
  const left = Math.max(PAD, (drawW - contentW) / 2);

  type Placed = { net: Network; x: number; y: number; insts: Instance[] };
  const switches: Placed[] = [];
  const placedOf = new Map<Group, Placed[]>();
  let rowTop = PAD;
  for (let r = 0; r <= row; r++) {
    const inRow = slots.filter((x) => x.row === r);
    if (inRow.length === 0) continue;
    const top = rowTop + (inRow.some((x) => x.group.router !== null) ? routerBand : 0);
    for (const x of inRow) {
      const p = { net: x.net, x: left + x.col * (COL + GAP) + COL / 2, y: top, insts: attached(x.net) };
      switches.push(p);
      placedOf.set(x.group, [...(placedOf.get(x.group) ?? []), p]);
    }
    rowTop = top + Math.max(...inRow.map((x) => colHeight(x.net))) + 28;
  }
  const routers = groups.flatMap((g) => {
    const placed = placedOf.get(g) ?? [];
    const first = placed[0];
    if (g.router === null || !first) return [];
    const sameRow = placed.filter((p) => p.y === first.y);
    return [
      {
        name: g.router,
        x: sameRow.reduce((sum, p) => sum + p.x, 0) / sameRow.length,
        y: first.y - routerBand + ROUTER_R + 8,
        nets: placed,
        nat: g.nets.some((n) => n.nat),
      },
    ];
  });
  const height = rowTop - 28 + PAD;

  return (
    <div class="topology" ref={ref}>
      <svg
        width={drawW}
        height={height}
        viewBox={`0 0 ${drawW} ${height}`}
        role="img"
        aria-labelledby="topology-title"
        class="topology-svg"
      >
        <title id="topology-title">
          {`Network topology: ${networks.length} network${networks.length === 1 ? '' : 's'}, ${routers.length} router${routers.length === 1 ? '' : 's'}`}
        </title>
        {/* Links first, so nodes are drawn over them. */}
        {routers.flatMap((r) =>
          r.nets.map((p) => (
            <path
              key={`rl-${r.name}-${p.net.name}`}
              class="topo-link topo-link-router"
              d={`M ${r.x} ${r.y + ROUTER_R} C ${r.x} ${r.y + ROUTER_R + 24}, ${p.x} ${p.y - 28}, ${p.x} ${p.y}`}
            />
          )),
        )}
        {switches.flatMap((p) =>
          p.insts.map((_, k) => {
            const y = p.y + SWITCH_H + 34 + k * INST_STEP + INST_H / 2;
            const x0 = p.x - NODE_W / 2 + 14;
            return (
              <path
                key={`il-${p.net.name}-${k}`}
                class="topo-link"
                d={`M ${x0} ${p.y + SWITCH_H} V ${y} H ${x0 + 12}`}
              />
            );
          }),
        )}
        {routers.map((r) => (
          <g key={`r-${r.name}`} class="topo-router" data-node={`router:${r.name}`}>
            <circle cx={r.x} cy={r.y} r={ROUTER_R} />
            <path
              class="topo-glyph"
              d={`M ${r.x - 10} ${r.y} H ${r.x + 10} M ${r.x + 5} ${r.y - 5} L ${r.x + 10} ${r.y} L ${r.x + 5} ${r.y + 5} M ${r.x} ${r.y - 10} V ${r.y + 10} M ${r.x - 5} ${r.y - 5} L ${r.x} ${r.y - 10} L ${r.x + 5} ${r.y - 5}`}
            />
            <text x={r.x + ROUTER_R + 8} y={r.y - 3} class="topo-label">
              {fit(r.name, 18)}
            </text>
            <text x={r.x + ROUTER_R + 8} y={r.y + 13} class="topo-sub">
              router{r.nat ? ' · NAT' : ''}
            </text>
          </g>
        ))}
        {switches.map((p) => {
          const n = p.net;
          const x = p.x - NODE_W / 2;
          return (
            <g
              key={`s-${n.name}`}
              class={`topo-switch${n.running ? ' topo-switch-on' : ''}`}
              data-node={`switch:${n.name}`}
            >
              <rect x={x} y={p.y} width={NODE_W} height={SWITCH_H} rx={8} />
              <circle cx={x + 14} cy={p.y + 15} r={4} class="topo-state" />
              <text x={x + 25} y={p.y + 19} class="topo-label">
                {fit(n.name, 13)}
              </text>
              <text x={x + 12} y={p.y + 36} class="topo-sub mono">
                {n.subnet ?? 'no subnet'}
              </text>
              {n.vlan !== null ? (
                <g class="topo-vlan" data-vlan={n.vlan}>
                  <rect x={x + NODE_W - 62} y={p.y + SWITCH_H + 6} width={62} height={20} rx={10} />
                  <text x={x + NODE_W - 31} y={p.y + SWITCH_H + 20} text-anchor="middle">
                    VLAN {n.vlan}
                  </text>
                </g>
              ) : null}
              {n.dhcp ? (
                <text x={x + 30} y={p.y + SWITCH_H + 20} class="topo-sub">
                  DHCP
                </text>
              ) : null}
              {p.insts.length === 0 ? (
                <text x={x + 14} y={p.y + SWITCH_H + 34 + 20} class="topo-sub topo-empty">
                  no instances
                </text>
              ) : null}
              {p.insts.map((i, k) => {
                const y = p.y + SWITCH_H + 34 + k * INST_STEP;
                return (
                  <a key={i.name} href={`#/instances/${encodeURIComponent(i.name)}`} data-node={`instance:${i.name}`}>
                    <g class={`topo-instance topo-${i.status}`}>
                      <rect x={x + 26} y={y} width={NODE_W - 26} height={INST_H} rx={15} />
                      <circle cx={x + 40} cy={y + INST_H / 2} r={4} class="topo-state" />
                      <text x={x + 50} y={y + INST_H / 2 + 4.5} class="topo-label topo-inst-label">
                        {fit(i.name, 10)}
                      </text>
                    </g>
                  </a>
                );
              })}
            </g>
          );
        })}
      </svg>
    </div>
  );
}
