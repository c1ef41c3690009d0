import { useEffect, useState } from 'preact/hooks';
import type { InstanceState } from '../api/schema/index.js';
import { api } from './api.js';
import { formatBytes } from './format.js';

/** How often a running instance's usage is sampled while its page is open (usage is a counter, not an event). */
const SAMPLE_MS = 3000;
/** How many samples the charts keep (3 minutes). */
const KEEP = 60;

/** One usage sample: CPU busy share (% of one CPU) and resident memory. */
interface Sample {
  cpuPercent: number;
  rssBytes: number;
}

/** A tiny line chart of `values` scaled to `max`. */
export function Sparkline({ values, max, label }: { values: number[]; max: number; label: string }) {
  const w = 240;
  const h = 44;
  const top = Math.max(max, ...values, 1e-9);
  const pts = values.map((v, i) => {
    // Newest on the right; one step per sample.
    const x = w - (values.length - 1 - i) * (w / (KEEP - 1));
    const y = h - 2 - (v / top) * (h - 4);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  return (
    <svg class="sparkline" viewBox={`0 0 ${w} ${h}`} preserveAspectRatio="none" role="img" aria-label={label}>
      {pts.length > 1 ? (
        <polyline
          points={pts.join(' ')}
          fill="none"
          stroke="currentColor"
          stroke-width="2"
          vector-effect="non-scaling-stroke"
        />
      ) : null}
    </svg>
  );
}

/**
 * CPU and memory of a running instance over the last minutes, from `/1.0/instances/<name>/state`, sampled while
 * the page is open.
 */
export function UsageCharts({ name, running }: { name: string; running: boolean }) {
  const [samples, setSamples] = useState<Sample[]>([]);
  const [limitBytes, setLimitBytes] = useState(0);
  useEffect(() => {
    setSamples([]);
    if (!running) return;
    let alive = true;
    let last: { at: number; cpuSeconds: number } | undefined;
    const sample = async () => {
      try {
        const st = await api<InstanceState>('GET', `/1.0/instances/${encodeURIComponent(name)}/state`);
        if (!alive || !st.usage) return;
        const at = performance.now();
        const u = st.usage;
        setLimitBytes(st.memoryBytes);
        if (last) {
          const cpuPercent = Math.max(0, ((u.cpuSeconds - last.cpuSeconds) / ((at - last.at) / 1000)) * 100);
          setSamples((s) => [...s, { cpuPercent, rssBytes: u.memoryRssBytes }].slice(-KEEP));
        }
        last = { at, cpuSeconds: u.cpuSeconds };
      } catch {
        // The instance stopped or went away: its events update the page.
      }
    };
    void sample();
    const t = setInterval(sample, SAMPLE_MS);
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, [name, running]);

  if (!running) return null;
  const now = samples[samples.length - 1];
  return (
    <section class="card usage" aria-labelledby="usage-title">
      <h2 id="usage-title">Usage</h2>
      <div class="usage-row">
        <span>CPU</span>
        <strong>{now ? `${now.cpuPercent.toFixed(0)}%` : '…'}</strong>
      </div>
      <Sparkline values={samples.map((s) => s.cpuPercent)} max={100} label="CPU use over the last minutes" />
      <div class="usage-row">
        <span>Memory (VMM)</span>
        <strong>{now ? formatBytes(now.rssBytes) : '…'}</strong>
      </div>
      <Sparkline values={samples.map((s) => s.rssBytes)} max={limitBytes} label="memory use over the last minutes" />
    </section>
  );
}
