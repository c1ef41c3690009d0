import { cpus, freemem, loadavg, totalmem, uptime } from 'node:os';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from '../api-deps.js';
import { metricRows, renderMetrics } from '../metrics.js';
import type { ApiRoute } from '../route.js';
import { HostResources, ServerInfo } from '../schema/common.js';

/** Busy and total CPU time of all CPUs so far (milliseconds). */
function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

/** `/1.0` (server info), `/1.0/resources` (host CPU and memory), `/metrics` (Prometheus) and `/openapi.json` (this API's contract). */
export function serverRoutes(deps: ApiDeps, openapi: () => unknown): ApiRoute[] {
  let lastCpu = cpuTimes();
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
      url: '/1.0/resources',
      operationId: 'getResources',
      summary: "The host's CPUs and memory: count, busy share since the previous call, load, total and available",
      tag: 'server',
      responses: { 200: HostResources },
      handler: async () => {
        const now = cpuTimes();
        const total = now.total - lastCpu.total;
        const percent = total > 0 ? ((now.busy - lastCpu.busy) / total) * 100 : 0;
        lastCpu = now;
        return {
          cpus: Math.max(1, cpus().length),
          cpuUsagePercent: Math.min(100, Math.max(0, Math.round(percent * 10) / 10)),
          loadAverage: loadavg(),
          memoryTotalBytes: totalmem(),
          memoryAvailableBytes: freemem(),
          uptimeSeconds: uptime(),
        };
      },
    },
    {
      method: 'GET',
      url: '/metrics',
      operationId: 'metrics',
      summary:
        'Per-instance CPU, memory, disk, NIC and pids counters of VMs, containers and sandboxes in Prometheus text format',
      tag: 'server',
      responses: { 200: { contentType: 'text/plain; version=0.0.4', description: 'Prometheus text exposition' } },
      handler: async (_req, reply) => {
        const rows = await metricRows(deps.instances);
        const running = deps.operations.list().filter((o) => o.status === 'running').length;
        const text = renderMetrics(rows, { strata_instances: rows.length, strata_operations_running: running });
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
