import type { Instance } from '../api/schema/index.js';
import { formatBytes } from './format.js';
import { type LiveState, USAGE_POINTS, type UsagePoint } from './live.js';

/** Bytes per second in binary units: `1.2 MiB/s`. */
export function formatRate(bps: number): string {
  return `${formatBytes(Math.round(bps))}/s`;
}

/** One line of a chart. */
interface Series {
  values: number[];
  /** CSS class giving the line its colour. */
  tone: 'a' | 'b';
}

/** The y position of `v` in a chart `h` high, scaled to `top`. */
function yOf(v: number, top: number, h: number): number {
  return h - 2 - (v / top) * (h - 4);
}

/**
 * A small line chart, newest on the right, one step per sample; `max` is the top of the scale (the limit, when
 * there is one; the chart grows above it if values do).
 */
export function Sparkline({
  series,
  max,
  label,
  height = 44,
}: {
  series: Series[];
  max: number;
  label: string;
  height?: number;
}) {
  const w = 240;
  const h = height;
  const top = Math.max(max, ...series.flatMap((s) => s.values), 1e-9);
  const step = w / (USAGE_POINTS - 1);
  const count = Math.max(0, ...series.map((s) => s.values.length));
  return (
    <svg
      class="sparkline"
      style={{ height: `${h}px` }}
      viewBox={`0 0 ${w} ${h}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={label}
      data-points={count}
    >
      {series.map((s, k) => {
        if (s.values.length < 2) return null;
        const pts = s.values.map((v, i) => {
          const x = w - (s.values.length - 1 - i) * step;
          return `${x.toFixed(1)},${yOf(v, top, h).toFixed(1)}`;
        });
        const first = w - (s.values.length - 1) * step;
        return (
          <g key={k} class={`spark-${s.tone}`}>
            <polygon points={`${first.toFixed(1)},${h} ${pts.join(' ')} ${w},${h}`} class="spark-area" />
            <polyline points={pts.join(' ')} fill="none" vector-effect="non-scaling-stroke" class="spark-line" />
          </g>
        );
      })}
    </svg>
  );
}

/** A current figure of a chart, with its key when the chart has several. */
interface ChartFigure {
  name?: string;
  value: string;
  tone: 'a' | 'b';
}

/** A chart with its title, current figures and legend. */
function Chart({
  title,
  note,
  figures,
  series,
  max,
  label,
}: {
  title: string;
  note?: string;
  figures: ChartFigure[];
  series: Series[];
  max: number;
  label: string;
}) {
  return (
    <div class="chart" data-chart={title.toLowerCase()}>
      <div class="chart-head">
        <span class="chart-title">
          {title}
          {note ? <span class="chart-note"> · {note}</span> : null}
        </span>
        <span class="chart-figures">
          {figures.map((f) => (
            <span key={f.name ?? 'v'} class={`chart-figure tone-${f.tone}`}>
              {f.name ? <span class="chart-key">{f.name}</span> : null}
              <strong>{f.value}</strong>
            </span>
          ))}
        </span>
      </div>
      <Sparkline series={series} max={max} label={label} height={56} />
    </div>
  );
}

/** What an instance's memory figure measures, by type. */
const MEMORY_NOTE: Record<Instance['type'], string> = { vm: 'VMM process', container: 'cgroup', sandbox: 'worker' };

/**
 * CPU, memory, disk and network of a running instance over the last two minutes, from the metrics samples the
 * event stream pushes (nothing is polled). A sandbox has no disk and no network: only CPU and memory.
 */
export function UsageCharts({ inst, live }: { inst: Instance; live: LiveState }) {
  const running = inst.status === 'running' || inst.status === 'paused';
  if (!running) return null;
  const pts: UsagePoint[] = live.usage[inst.name] ?? [];
  const now = pts[pts.length - 1];
  const pick = (f: (p: UsagePoint) => number) => pts.map(f);
  const wait = '…';
  type Rate = [name: string, of: (p: UsagePoint) => number];
  /** The figures and series of a chart of two rates (read and write, in and out). */
  const twoRates = (a: Rate, b: Rate): { figures: ChartFigure[]; series: Series[] } => ({
    figures: [
      { name: a[0], value: now ? formatRate(a[1](now)) : wait, tone: 'a' },
      { name: b[0], value: now ? formatRate(b[1](now)) : wait, tone: 'b' },
    ],
    series: [
      { values: pick(a[1]), tone: 'a' },
      { values: pick(b[1]), tone: 'b' },
    ],
  });
  return (
    <section class="card usage" aria-labelledby="usage-title">
      <h2 id="usage-title">Usage</h2>
      <div class="charts">
        <Chart
          title="CPU"
          figures={[{ value: now ? `${now.cpuPercent.toFixed(0)}%` : wait, tone: 'a' }]}
          series={[{ values: pick((p) => p.cpuPercent), tone: 'a' }]}
          max={100}
          label="CPU use over the last two minutes"
        />
        <Chart
          title="Memory"
          note={MEMORY_NOTE[inst.type]}
          figures={[{ value: now ? formatBytes(now.memoryBytes) : wait, tone: 'a' }]}
          series={[{ values: pick((p) => p.memoryBytes), tone: 'a' }]}
          max={inst.memoryBytes}
          label="memory use over the last two minutes"
        />
        {inst.type === 'sandbox' ? null : (
          <>
            <Chart
              title="Disk"
              {...twoRates(['read', (p) => p.diskReadBps], ['write', (p) => p.diskWriteBps])}
              max={64 * 1024}
              label="disk reads and writes over the last two minutes"
            />
            <Chart
              title="Network"
              {...twoRates(['in', (p) => p.netRxBps], ['out', (p) => p.netTxBps])}
              max={1024}
              label="network traffic over the last two minutes"
            />
          </>
        )}
      </div>
    </section>
  );
}
