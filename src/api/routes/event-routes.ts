import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../api-deps.js';
import { MetricsFeed } from '../instance-devices.js';
import type { ApiRoute } from '../route.js';
import { ErrorBody, StrataEvent } from '../schema/common.js';

const SinceQuery = Type.Object({
  since: Type.Optional(Type.Integer({ minimum: 0, description: 'resume after this sequence number' })),
  transient: Type.Optional(
    Type.Boolean({
      description:
        'WebSocket only: also send the transient events (operation progress, metrics samples), which are never kept',
    }),
  ),
});

/** `/1.0/events`: the event stream over WebSocket (resumable with `since`), or the recent events as JSON. */
export function eventRoutes(deps: ApiDeps): ApiRoute[] {
  const metrics = new MetricsFeed(deps);
  return [
    {
      method: 'GET',
      url: '/1.0/events',
      operationId: 'events',
      summary:
        'Lifecycle and operation events. Over WebSocket: one JSON event per text frame, live; with since=N first every kept event after N. With transient=true also transient events (never kept, marked transient: true): the progress of running operations (at most 4 a second each) and a metrics sample of every running instance about every 2 s. Without upgrade: the kept events after since (default: the last 100)',
      tag: 'events',
      querystring: SinceQuery,
      responses: { 200: Type.Array(StrataEvent), 400: ErrorBody },
      handler: async (req) => {
        const since = (req.query as { since?: number }).since ?? Math.max(0, deps.events.lastSeq() - 100);
        return deps.events.after(since, 1000);
      },
      websocket: {
        description: 'event stream: JSON text frames',
        handler: (socket, req) => {
          const q = req.query as { since?: number; transient?: boolean };
          const wantsTransient = q.transient === true;
          const send = (e: unknown) => {
            if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(e));
          };
          const off = deps.events.subscribe(q.since, (e) => {
            if (wantsTransient || !(e as { transient?: boolean }).transient) send(e);
          });
          if (wantsTransient) {
            const seq = deps.events.lastSeq();
            for (const m of metrics.join()) {
              const at = new Date().toISOString();
              send({ seq, at, type: 'metrics', resource: `/1.0/instances/${m.name}`, data: m, transient: true });
            }
          }
          let ended = false;
          const end = () => {
            if (ended) return;
            ended = true;
            off();
            if (wantsTransient) metrics.leave();
          };
          socket.on('close', end);
          socket.on('error', end);
        },
      },
    },
  ];
}
