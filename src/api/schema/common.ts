import { type Static, Type } from '@sinclair/typebox';

/** The body of every error response: a machine-readable code and one line naming the bad value or field. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'StrataError code, or UNAUTHORIZED' }),
      message: Type.String(),
    }),
  },
  { $id: 'Error', additionalProperties: false },
);
/** An error response. */
export type ErrorBody = Static<typeof ErrorBody>;

/** Progress of a running operation. */
export const OperationProgress = Type.Object({
  phase: Type.String(),
  doneBytes: Type.Integer({ minimum: 0 }),
  totalBytes: Type.Integer({ minimum: 0 }),
  /** `steps` when doneBytes/totalBytes count steps (packages installed), not bytes. */
  unit: Type.Optional(Type.Literal('steps')),
});

/** Status of an operation. */
export const OperationStatus = Type.Union([
  Type.Literal('running'),
  Type.Literal('success'),
  Type.Literal('failure'),
  Type.Literal('cancelled'),
]);

/** A long-running piece of work: what a 202 returns and `/1.0/operations/{id}` shows. */
export const Operation = Type.Object(
  {
    id: Type.String(),
    kind: Type.String({ description: 'e.g. instance.launch, instance.stop, image.pull' }),
    resource: Type.String({ description: 'the API path of the resource it acts on' }),
    status: OperationStatus,
    errorCode: Type.Union([Type.String(), Type.Null()]),
    errorMessage: Type.Union([Type.String(), Type.Null()]),
    result: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()], {
      description: 'what the operation produced, e.g. the path of an export',
    }),
    createdAt: Type.String(),
    updatedAt: Type.String(),
    progress: Type.Union([OperationProgress, Type.Null()]),
    mayCancel: Type.Boolean(),
  },
  { $id: 'Operation', additionalProperties: false },
);
/** An operation. */
export type Operation = Static<typeof Operation>;

/** An event of the event stream, with the sequence number a client resumes from. */
export const StrataEvent = Type.Object(
  {
    seq: Type.Integer({ minimum: 0 }),
    at: Type.String(),
    type: Type.String({ description: 'lifecycle, operation, or metrics (live only)' }),
    resource: Type.String(),
    data: Type.Record(Type.String(), Type.Unknown()),
    transient: Type.Optional(
      Type.Literal(true, {
        description:
          "sent to live subscribers only, never kept or replayed (progress of a running operation, metrics samples); seq is the newest kept event's",
      }),
    ),
  },
  { $id: 'Event', additionalProperties: false },
);
/** An event. */
export type StrataEvent = Static<typeof StrataEvent>;

/** Path parameter: a resource name. */
export const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) });
/** Path parameter: an operation id. */
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** The server description at `/1.0`. */
export const ServerInfo = Type.Object(
  {
    apiVersion: Type.Literal('1.0'),
    version: Type.String(),
    engines: Type.Array(
      Type.Object({ name: Type.String(), available: Type.Boolean(), reason: Type.Union([Type.String(), Type.Null()]) }),
    ),
    resourceControls: Type.Object({ kind: Type.String(), summary: Type.String() }),
    auth: Type.Union([Type.Literal('trusted'), Type.Literal('token')]),
    lastEventSeq: Type.Integer({ minimum: 0 }),
  },
  { $id: 'ServerInfo', additionalProperties: false },
);
/** Server info. */
export type ServerInfo = Static<typeof ServerInfo>;

/** POST /1.0/session: the token, traded for a session cookie. */
export const SignIn = Type.Object(
  { token: Type.Optional(Type.String({ maxLength: 512 })) },
  { $id: 'SignIn', additionalProperties: false },
);
/** A sign-in request. */
export type SignIn = Static<typeof SignIn>;

/** The answer of a sign-in. */
export const SessionInfo = Type.Object(
  { signedIn: Type.Boolean() },
  { $id: 'SessionInfo', additionalProperties: false },
);
/** A sign-in answer. */
export type SessionInfo = Static<typeof SessionInfo>;

/** GET /1.0/resources: the host's CPUs and memory. */
export const HostResources = Type.Object(
  {
    cpus: Type.Integer({ minimum: 1 }),
    cpuUsagePercent: Type.Number({
      minimum: 0,
      maximum: 100,
      description: 'busy share of all CPUs since the last call',
    }),
    loadAverage: Type.Array(Type.Number(), { description: '1, 5 and 15 minutes' }),
    memoryTotalBytes: Type.Integer({ minimum: 0 }),
    memoryAvailableBytes: Type.Integer({ minimum: 0 }),
    uptimeSeconds: Type.Number({ minimum: 0 }),
  },
  { $id: 'HostResources', additionalProperties: false },
);
/** Host resources. */
export type HostResources = Static<typeof HostResources>;
