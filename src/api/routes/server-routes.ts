import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../api-deps.js';
import { renderMetrics } from '../metrics.js';
import type { ApiRoute } from '../route.js';
import { ServerInfo } from '../schema/common.js';

/** `/1.0` (server info), `/metrics` (Prometheus) and `/openapi.json` (this API's contract). */
export function serverRoutes(deps: ApiDeps, openapi: () => unknown): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/1.0',
      operationId: 'getServer',
      summary: 'Server version, engines, resource controls and the newest event number',
      tag: 'server',
      responses: { 200: ServerInfo },
      handler: async (req) => ({
        apiVersion: '1.0' as const,
        version: deps.version,
        engines: await Promise.all(
          [...deps.engines.values()].map(async (e) => {
            const reason = (await e.unavailableReason()) ?? null;
            return { name: e.name, available: reason === null, reason };
          }),
        ),
        resourceControls: deps.controls.support,
        auth: (req as { strataTrusted?: boolean }).strataTrusted ? ('trusted' as const) : ('token' as const),
        lastEventSeq: deps.events.lastSeq(),
      }),
    },
    {
      method: 'GET',
      url: '/metrics',
      operationId: 'metrics',
      summary: 'Per-instance CPU, memory, disk and NIC counters in Prometheus text format',
      tag: 'server',
      responses: { 200: { contentType: 'text/plain; version=0.0.4', description: 'Prometheus text exposition' } },
      handler: async (_req, reply) => {
        const records = deps.instances.list();
        const rows = await Promise.all(
          records.map(async (record) => ({ record, usage: await deps.instances.runtime.usage(record.name) })),
        );
        const running = deps.operations.list().filter((o) => o.status === 'running').length;
        const text = renderMetrics(rows, { strata_instances: records.length, strata_operations_running: running });
        return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
      },
    },
    {
      method: 'GET',
      url: '/openapi.json',
      operationId: 'openapi',
      summary: 'The OpenAPI 3.1 document of this API, generated from the schemas that validate it',
      tag: 'server',
      responses: { 200: Type.Object({ openapi: Type.String() }, { additionalProperties: true }) },
      handler: async () => openapi(),
    },
  ];
}
