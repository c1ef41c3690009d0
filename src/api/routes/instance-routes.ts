import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { errorMessage, StrataError } from '../../base/errors.js';
import { MAX_INSTANCE_FILE_BYTES } from '../../base/instance-path.js';
import type { LifecycleAction } from '../../services/instances/instance-manager.js';
import type { ApiDeps } from '../api-deps.js';
import { instanceDisks, instanceNics, LeaseLookup } from '../instance-devices.js';
import { apiUsageOf } from '../metrics.js';
import { accepted } from '../reply-helpers.js';
import type { ApiRoute } from '../route.js';
import { ErrorBody, NameParams, Operation } from '../schema/common.js';
import {
  type CreateInstance,
  CreateInstance as CreateInstanceSchema,
  type ExecRequest,
  ExecRequest as ExecRequestSchema,
  ExecResult,
  FileQuery,
  FileWritten,
  Instance,
  InstanceState,
  type PatchInstance,
  PatchInstance as PatchInstanceSchema,
  type StateChange,
  StateChange as StateChangeSchema,
} from '../schema/instances.js';

type Named = FastifyRequest<{ Params: { name: string } }>;

const ForceQuery = Type.Object({ force: Type.Optional(Type.Boolean()) });

/** WebSocket close code for "the instance has no console now" (application range 4000-4999). */
export const WS_CLOSE_NO_CONSOLE = 4404;

/** Translates a state change request into the lifecycle action it stands for. */
export function toVmAction(b: StateChange): LifecycleAction {
  const force = b.force === true;
  switch (b.action) {
    case 'stop':
      return { kind: 'stop', force };
    case 'restart':
      return { kind: 'restart', force };
    case 'pause':
      return { kind: 'pause' };
    case 'resume':
      return { kind: 'resume' };
    default:
      return { kind: 'start' };
  }
}

/** Routes of `/1.0/instances`: list, create, show, change state, patch limits, delete, exec, console. */
export function instanceRoutes(deps: ApiDeps): ApiRoute[] {
  const im = deps.instances;
  const refuseForWorkload = async (name: string, what: string) => {
    const w = await im.workloadOf(name);
    if (w) throw new StrataError('CONFLICT', `${what} is for VMs only: '${name}' is a ${w.type}`);
  };
  return [
    {
      method: 'GET',
      url: '/1.0/instances',
      operationId: 'listInstances',
      summary: 'List instances',
      tag: 'instances',
      responses: { 200: Type.Array(Instance) },
      handler: async () => im.listAll(),
    },
    {
      method: 'POST',
      url: '/1.0/instances',
      operationId: 'createInstance',
      summary: 'Create an instance (and boot it with start: true); returns an operation',
      tag: 'instances',
      body: CreateInstanceSchema,
      responses: { 202: Operation, 400: ErrorBody, 409: ErrorBody },
      handler: async (req, reply) => accepted(reply, await im.create(req.body as CreateInstance)),
    },
    {
      method: 'GET',
      url: '/1.0/instances/:name',
      operationId: 'getInstance',
      summary: 'Show an instance',
      tag: 'instances',
      params: NameParams,
      responses: { 200: Instance, 400: ErrorBody, 404: ErrorBody },
      handler: async (req) => im.show((req as Named).params.name),
    },
    {
      method: 'PATCH',
      url: '/1.0/instances/:name',
      operationId: 'patchInstance',
      summary:
        'Change resource limits: a VM or a running container gets them at once (a container through its cgroups), a sandbox from its next run',
      tag: 'instances',
      params: NameParams,
      body: PatchInstanceSchema,
      responses: { 200: Instance, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req) => im.patchAny((req as Named).params.name, req.body as PatchInstance),
    },
    {
      method: 'DELETE',
      url: '/1.0/instances/:name',
      operationId: 'deleteInstance',
      summary: 'Delete an instance (a running one only with force=true); returns an operation',
      tag: 'instances',
      params: NameParams,
      querystring: ForceQuery,
      responses: { 202: Operation, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req, reply) => {
        const q = req.query as { force?: boolean };
        return accepted(reply, await im.deleteAny((req as Named).params.name, q.force === true));
      },
    },
    {
      method: 'GET',
      url: '/1.0/instances/:name/state',
      operationId: 'getInstanceState',
      summary:
        "State, usage next to limits, what enforces them, and the NICs (with the address the network's DHCP leased) and disks",
      tag: 'instances',
      params: NameParams,
      responses: { 200: InstanceState, 400: ErrorBody, 404: ErrorBody },
      handler: async (req) => {
        const name = (req as Named).params.name;
        const leases = new LeaseLookup(deps);
        if (await im.workloadOf(name)) {
          const v = await im.show(name);
          const u = v.status === 'stopped' ? undefined : await im.workloadUsage(name);
          const usage = u ? apiUsageOf(u) : null;
          const nic = v.network === null ? undefined : await im.workloadNic(name);
          return {
            nics: await instanceNics(deps, v, usage, leases, nic),
            disks: await instanceDisks(deps, v, null),
            status: v.status,
            statusReason: v.statusReason,
            pid: v.vmmPid,
            cpus: v.cpus,
            memoryBytes: v.memoryBytes,
            diskSizeBytes: v.diskSizeBytes,
            limits: v.limits,
            usage,
            controls: deps.controls.support,
          };
        }
        const r = im.get(name);
        const usage = (await im.runtime.usage(r.name)) ?? null;
        const inst = { ...r, type: 'vm' as const };
        return {
          nics: await instanceNics(deps, inst, usage, leases),
          disks: await instanceDisks(deps, inst, usage),
          status: r.status,
          statusReason: r.statusReason,
          pid: r.vmmPid,
          cpus: r.cpus,
          memoryBytes: r.memoryBytes,
          diskSizeBytes: r.diskSizeBytes,
          limits: r.limits,
          usage,
          controls: deps.controls.support,
        };
      },
    },
    {
      method: 'PUT',
      url: '/1.0/instances/:name/state',
      operationId: 'changeInstanceState',
      summary: 'Start, stop, restart, pause or resume; returns an operation',
      tag: 'instances',
      params: NameParams,
      body: StateChangeSchema,
      responses: { 202: Operation, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req, reply) => {
        const name = (req as Named).params.name;
        return accepted(reply, await im.actAny(name, toVmAction(req.body as StateChange)));
      },
    },
    {
      method: 'POST',
      url: '/1.0/instances/:name/export',
      operationId: 'exportInstance',
      summary: 'Export the root disk of a stopped instance (sparse raw); the operation result names the file',
      tag: 'instances',
      params: NameParams,
      responses: { 202: Operation, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req, reply) => {
        const name = (req as Named).params.name;
        await refuseForWorkload(name, 'export');
        return accepted(reply, im.export(name));
      },
    },
    {
      method: 'POST',
      url: '/1.0/instances/:name/exec',
      operationId: 'execInstance',
      summary:
        'Run a command in a running container and wait for it: its exit code (128+N for signal N) and output (base64)',
      tag: 'instances',
      params: NameParams,
      body: ExecRequestSchema,
      responses: { 200: ExecResult, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      handler: async (req) => {
        const b = req.body as ExecRequest;
        const r = await im.exec((req as Named).params.name, {
          command: b.command,
          stdin: b.stdin === undefined ? undefined : new Uint8Array(Buffer.from(b.stdin, 'base64')),
        });
        return {
          exitCode: r.exitCode,
          stdout: Buffer.from(r.stdout).toString('base64'),
          stderr: Buffer.from(r.stderr).toString('base64'),
        };
      },
    },
    {
      method: 'PUT',
      url: '/1.0/instances/:name/files',
      operationId: 'pushInstanceFile',
      summary:
        "Put a file into a sandbox's folder or a container's layer, at a path relative to its root (never outside it); not for VMs",
      tag: 'instances',
      params: NameParams,
      querystring: FileQuery,
      rawBody: {
        contentType: 'application/octet-stream',
        maxBytes: MAX_INSTANCE_FILE_BYTES,
        description: 'the file content',
      },
      responses: { 200: FileWritten, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody },
      handler: async (req) => {
        const name = (req as Named).params.name;
        const { path } = req.query as { path: string };
        const body = req.body;
        if (!Buffer.isBuffer(body)) {
          throw new StrataError('INVALID_ARGUMENT', 'invalid body: send the file as application/octet-stream');
        }
        await im.writeFile(name, path, new Uint8Array(body.buffer, body.byteOffset, body.length));
        return { path, sizeBytes: body.length };
      },
    },
    {
      method: 'GET',
      url: '/1.0/instances/:name/files',
      operationId: 'pullInstanceFile',
      summary: "Read a file of a sandbox's folder or a container, at a path relative to its root; not for VMs",
      tag: 'instances',
      params: NameParams,
      querystring: FileQuery,
      responses: {
        200: { contentType: 'application/octet-stream', description: 'the file content' },
        400: ErrorBody,
        404: ErrorBody,
        409: ErrorBody,
      },
      handler: async (req, reply) => {
        const name = (req as Named).params.name;
        const { path } = req.query as { path: string };
        const bytes = await im.readFile(name, path);
        return reply.type('application/octet-stream').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
      },
    },
    {
      method: 'GET',
      url: '/1.0/instances/:name/console',
      operationId: 'instanceConsole',
      summary:
        'The serial console. Over WebSocket: binary frames of output (first the last 1 MiB kept), frames sent are input. Without upgrade: the kept output as text',
      tag: 'instances',
      params: NameParams,
      responses: {
        200: { contentType: 'application/octet-stream', description: 'kept console output' },
        404: ErrorBody,
        409: ErrorBody,
      },
      handler: async (req, reply) => {
        const name = (req as Named).params.name;
        const con = await im.openConsole(name, () => {});
        con.close();
        return reply.type('application/octet-stream').send(Buffer.from(con.history));
      },
      websocket: {
        description: 'console stream: binary output frames out, input frames in',
        handler: (socket, req) => {
          const name = (req as Named).params.name;
          let ready = false;
          const early: Uint8Array[] = [];
          const send = (b: Uint8Array) => {
            if (socket.readyState === socket.OPEN) socket.send(b, { binary: true });
          };
          let closeConsole: (() => void) | undefined;
          // Input that arrives while the console is being opened is kept and sent once it is open.
          let sendInput: ((bytes: Uint8Array) => void) | undefined;
          const earlyInput: Uint8Array[] = [];
          socket.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
            const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
            const bytes = new Uint8Array(buf);
            if (sendInput) sendInput(bytes);
            else earlyInput.push(bytes);
          });
          socket.on('close', () => closeConsole?.());
          im.openConsole(name, (bytes) => (ready ? send(bytes) : early.push(bytes))).then(
            (con) => {
              closeConsole = con.close;
              void con.ended.then(() => socket.close(1000, 'console ended'));
              if (socket.readyState !== socket.OPEN) {
                con.close();
                return;
              }
              if (con.history.length > 0) send(con.history);
              for (const b of early) send(b);
              ready = true;
              sendInput = (bytes) => {
                con.send(bytes).catch(() => {
                  // The guest is gone: the close of its console ends this socket too.
                });
              };
              for (const b of earlyInput.splice(0)) sendInput(b);
            },
            (err: unknown) => socket.close(WS_CLOSE_NO_CONSOLE, errorMessage(err).slice(0, 120)),
          );
        },
      },
    },
  ];
}
