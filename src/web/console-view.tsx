import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Instance } from '../api/schema/index.js';
import { wsUrl } from './api.js';

/** What the console shows above the terminal. */
type ConsoleStatus = 'connecting' | 'connected' | 'ended' | 'unavailable';

/** How often the console tries again after a refusal. */
const MAX_ATTEMPTS = 10;

/** Where typed keys go, by instance type. */
const KEYS_GO_TO: Record<Instance['type'], string> = {
  vm: 'the guest',
  container: 'the container',
  sandbox: "the module's standard input",
};

const LIVE: ReadonlySet<Instance['status']> = new Set(['starting', 'running', 'paused']);

/**
 * The live serial console: xterm.js over the instance's console WebSocket. Output frames are written to the
 * terminal (first the kept history), keys typed go to the guest, and the terminal refits to its box when the window
 * or the panel changes size. It reconnects when the instance starts again. A sandbox that is not running still
 * shows the output of its last run (the daemon sends it, then closes).
 */
export function ConsoleView({ instance }: { instance: Instance }) {
  const box = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<ConsoleStatus>('connecting');
  const [reason, setReason] = useState('');
  // Reconnection attempts after the console refused (it may not be ready the moment the instance starts).
  const [attempt, setAttempt] = useState(0);
  const live = LIVE.has(instance.status);
  const lastRun = !live && instance.type === 'sandbox';
  const shown = live || lastRun;
  const runId = instance.lastStartedAt ?? '';
  useEffect(() => setAttempt(0), [runId, live]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    if (!shown) {
      setStatus('unavailable');
      return;
    }
    const term = new Terminal({
      // A VM's serial console sends CR LF; a container's or sandbox's output is a pipe with bare LF.
      convertEol: instance.type !== 'vm',
      cursorBlink: live,
      // The output of a finished run takes no keys: no cursor.
      cursorInactiveStyle: live ? 'outline' : 'none',
      disableStdin: !live,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: { background: '#0f1720', foreground: '#d6dde6', cursor: '#7dd3fc' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    const refit = () => {
      try {
        fit.fit();
      } catch {
        // Not laid out yet.
      }
    };
    refit();
    const observer = new ResizeObserver(refit);
    observer.observe(el);

    setStatus('connecting');
    const ws = new WebSocket(wsUrl(`/1.0/instances/${encodeURIComponent(instance.name)}/console`));
    ws.binaryType = 'arraybuffer';
    const encoder = new TextEncoder();
    ws.onopen = () => {
      setStatus('connected');
      if (live) term.focus();
    };
    ws.onmessage = (m) => term.write(new Uint8Array(m.data as ArrayBuffer));
    let retry: ReturnType<typeof setTimeout> | undefined;
    ws.onclose = (e) => {
      const ended = e.code === 1000 || e.code === 1005;
      setStatus(ended ? 'ended' : 'unavailable');
      setReason(e.reason);
      if (!ended && live && attempt < MAX_ATTEMPTS) retry = setTimeout(() => setAttempt(attempt + 1), 2000);
    };
    const input = term.onData((d) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(d));
    });
    return () => {
      clearTimeout(retry);
      input.dispose();
      observer.disconnect();
      ws.onclose = null;
      ws.close();
      term.dispose();
    };
  }, [instance.name, live, shown, runId, attempt]);

  const note =
    status === 'connecting'
      ? 'Connecting…'
      : status === 'connected' && !lastRun
        ? `Connected — keys you type go to ${KEYS_GO_TO[instance.type]}`
        : status === 'ended' || status === 'connected'
          ? lastRun
            ? 'The output of its last run'
            : 'The console ended'
          : live
            ? `The console is not available${reason ? `: ${reason}` : ''}`
            : lastRun
              ? 'It has not run yet: start it to see its output'
              : 'The instance is not running: start it to use its console';

  return (
    <section class="card console-card" aria-labelledby="console-title">
      <div class="card-head">
        <h2 id="console-title">{instance.type === 'vm' ? 'Serial console' : 'Console'}</h2>
        <span class={`console-status console-${status}`} role="status">
          {note}
        </span>
      </div>
      <div class="terminal-box" ref={box} data-console={instance.name} hidden={!shown} />
    </section>
  );
}
