import { type Static, Type } from '@sinclair/typebox';

/** Instance states. */
export const InstanceStatus = Type.Union(
  ['stopped', 'starting', 'running', 'paused', 'stopping', 'failed'].map((s) => Type.Literal(s)),
);

/** Resource limits of an instance. */
export const Limits = Type.Object(
  {
    cpuWeight: Type.Integer({ minimum: 1, maximum: 10000, description: 'relative CPU weight (default 100)' }),
    cpuQuotaPercent: Type.Integer({ minimum: 0, maximum: 25600, description: 'CPU cap, % of one CPU; 0 none' }),
    diskIops: Type.Integer({ minimum: 0, description: '0: unlimited' }),
    diskBytesPerSec: Type.Integer({ minimum: 0, description: '0: unlimited' }),
    nicBytesPerSec: Type.Integer({ minimum: 0, description: '0: unlimited' }),
  },
  { $id: 'Limits', additionalProperties: false },
);
/** Limits. */
export type Limits = Static<typeof Limits>;

/** The kinds of instance. */
export const InstanceType = Type.Union([Type.Literal('vm'), Type.Literal('container'), Type.Literal('sandbox')]);

// ---- Containers and sandboxes: arguments, environment, files, limits changes (kept apart from the fields above) ----

/** Environment variables of a sandbox module or a container's processes. */
const EnvVars = Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 65_536 }), {
  description: 'NAME: value; names [A-Za-z_][A-Za-z0-9_]*, no NUL bytes, 256 variables and 64 KiB at most',
});

/** Fields of the settings of a sandbox added for its arguments and environment. */
const SandboxArgsEnvFields = {
  args: Type.Array(Type.String(), { description: 'argv[1..] of the module (argv[0] is the instance name)' }),
  env: EnvVars,
};

/** Fields of the settings of a container added for its environment. */
const ContainerEnvFields = { env: EnvVars };

/** Create request fields for a sandbox's arguments and files and a workload's environment. */
const WorkloadLaunchFields = {
  args: Type.Optional(
    Type.Array(Type.String({ maxLength: 4096 }), {
      maxItems: 256,
      description: 'sandboxes: argv[1..] of the module; no NUL bytes, 64 KiB at most',
    }),
  ),
  env: Type.Optional(EnvVars),
  files: Type.Optional(
    Type.Array(
      Type.Object(
        {
          path: Type.String({ minLength: 1, maxLength: 4096, description: 'relative to the sandbox folder' }),
          content: Type.String({ description: 'base64' }),
        },
        { additionalProperties: false },
      ),
      {
        maxItems: 1024,
        description: 'sandboxes: files put into its folder before the first start (640 KiB in all)',
      },
    ),
  ),
};

/** GET and PUT /1.0/instances/{name}/files: which file. */
export const FileQuery = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      maxLength: 4096,
      description:
        "relative to the instance's root (a sandbox's folder, a container's /): no '..', not absolute; links never lead out",
    }),
  },
  { additionalProperties: false },
);

/** What a file push answers. */
export const FileWritten = Type.Object(
  { path: Type.String(), sizeBytes: Type.Integer({ minimum: 0 }) },
  { $id: 'FileWritten', additionalProperties: false },
);
/** What a file push answers. */
export type FileWritten = Static<typeof FileWritten>;

/** PATCH fields for containers and sandboxes, beside `limits`. */
const WorkloadPatchFields = {
  memory: Type.Optional(
    Type.Union([Type.Integer({ minimum: 1 }), Type.String({ minLength: 1, maxLength: 32 })], {
      description: 'containers: memory cap (applied at once); sandboxes: linear memory cap (from the next run)',
    }),
  ),
  pidsLimit: Type.Optional(Type.Integer({ description: 'containers: most processes and threads (applied at once)' })),
  cpuTimeLimitMs: Type.Optional(
    Type.Integer({ description: 'sandboxes: CPU time budget of one run in ms (from the next run)' }),
  ),
};

// ---- end of the container and sandbox additions ----

/** What a container was created with (hostname, init, limits) and how often the OOM killer hit it. */
export const ContainerSettings = Type.Object(
  {
    hostname: Type.String(),
    command: Type.Array(Type.String(), { description: 'the init process (argv)' }),
    memoryLimitBytes: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'null: none' }),
    pidsLimit: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'null: no limit' }),
    cpuWeight: Type.Union([Type.Integer(), Type.Null()], { description: 'null: the default (100)' }),
    cpuQuotaPercent: Type.Union([Type.Integer(), Type.Null()], { description: 'null: no cap' }),
    oomKills: Type.Integer({ minimum: 0, description: 'OOM kills over all runs' }),
    ...ContainerEnvFields,
  },
  { additionalProperties: false },
);

/** What a sandbox was created with and how its last run ended. */
export const SandboxSettings = Type.Object(
  {
    cpuTimeLimitMs: Type.Integer({ minimum: 1, description: 'CPU time budget of one run' }),
    memoryLimitBytes: Type.Integer({ minimum: 1, description: 'cap of the module linear memory' }),
    lastEnd: Type.Union(
      [...['exit', 'trap', 'cpu-limit', 'memory-limit', 'stopped', 'error'].map((s) => Type.Literal(s)), Type.Null()],
      { description: 'how the last run ended; null before the first end' },
    ),
    ...SandboxArgsEnvFields,
  },
  { additionalProperties: false },
);

/** An instance. */
export const Instance = Type.Object(
  {
    name: Type.String(),
    id: Type.String(),
    type: InstanceType,
    image: Type.String(),
    engine: Type.Union([Type.Literal('builtin'), Type.Literal('qemu'), Type.Literal('runc'), Type.Literal('wasi')]),
    status: InstanceStatus,
    statusReason: Type.Union([Type.String(), Type.Null()]),
    cpus: Type.Integer({ minimum: 1 }),
    memoryBytes: Type.Integer({ minimum: 1 }),
    diskSizeBytes: Type.Integer({ minimum: 1 }),
    network: Type.Union([Type.String(), Type.Null()]),
    limits: Limits,
    vmmPid: Type.Union([Type.Integer(), Type.Null()]),
    createdAt: Type.String(),
    updatedAt: Type.String(),
    lastStartedAt: Type.Union([Type.String(), Type.Null()]),
    exitCode: Type.Optional(
      Type.Union([Type.Integer(), Type.Null()], { description: 'containers and sandboxes: exit code of the last run' }),
    ),
    container: Type.Optional(ContainerSettings),
    sandbox: Type.Optional(SandboxSettings),
  },
  { $id: 'Instance', additionalProperties: false },
);
/** An instance. */
export type Instance = Static<typeof Instance>;

/** A size: bytes, or text such as `512M`. */
const Size = Type.Union([Type.Integer({ minimum: 1 }), Type.String({ minLength: 1, maxLength: 32 })]);

/** POST /1.0/instances. */
export const CreateInstance = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128 }),
    image: Type.String({ minLength: 1, maxLength: 128 }),
    engine: Type.Optional(Type.String({ maxLength: 32, description: 'builtin (default) or qemu' })),
    cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
    memory: Type.Optional(Size),
    diskSize: Type.Optional(Size),
    network: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
    limits: Type.Optional(Type.Partial(Limits)),
    start: Type.Optional(Type.Boolean({ description: 'boot once created' })),
    type: Type.Optional(
      Type.Union([Type.Literal('vm'), Type.Literal('container'), Type.Literal('sandbox')], {
        description: 'default vm',
      }),
    ),
    module: Type.Optional(
      Type.String({ maxLength: 1_000_000, description: 'sandboxes: the WebAssembly module, base64' }),
    ),
    hostname: Type.Optional(
      Type.String({ maxLength: 253, description: 'containers: host name, an RFC 1123 label (default the name)' }),
    ),
    command: Type.Optional(
      Type.Array(Type.String({ maxLength: 4096 }), {
        minItems: 1,
        maxItems: 256,
        description: "containers: the init process argv (default the image's console shell)",
      }),
    ),
    pidsLimit: Type.Optional(Type.Integer({ description: 'containers: most processes and threads (pids.max)' })),
    cpuTimeLimitMs: Type.Optional(
      Type.Integer({ description: 'sandboxes: CPU time budget of one run in ms (default 10000)' }),
    ),
    ...WorkloadLaunchFields,
  },
  { $id: 'CreateInstance', additionalProperties: false },
);
/** A create request. */
export type CreateInstance = Static<typeof CreateInstance>;

/** PUT /1.0/instances/{name}/state. */
export const StateChange = Type.Object(
  {
    action: Type.Union(['start', 'stop', 'restart', 'pause', 'resume'].map((s) => Type.Literal(s))),
    force: Type.Optional(Type.Boolean()),
  },
  { $id: 'StateChange', additionalProperties: false },
);
/** A state change request. */
export type StateChange = Static<typeof StateChange>;

/** PATCH /1.0/instances/{name}. */
export const PatchInstance = Type.Object(
  { limits: Type.Optional(Type.Partial(Limits)), ...WorkloadPatchFields },
  { $id: 'PatchInstance', additionalProperties: false },
);
/** A patch request. */
export type PatchInstance = Static<typeof PatchInstance>;

/** Usage of a running instance. */
export const Usage = Type.Object({
  cpuSeconds: Type.Number({ minimum: 0 }),
  memoryRssBytes: Type.Integer({ minimum: 0 }),
  guestMemoryBytes: Type.Integer({ minimum: 0 }),
  diskReadBytes: Type.Integer({ minimum: 0 }),
  diskWriteBytes: Type.Integer({ minimum: 0 }),
  diskReadOps: Type.Integer({ minimum: 0 }),
  diskWriteOps: Type.Integer({ minimum: 0 }),
  nicRxBytes: Type.Integer({ minimum: 0 }),
  nicTxBytes: Type.Integer({ minimum: 0 }),
  nicRxPackets: Type.Optional(Type.Integer({ minimum: 0 })),
  nicTxPackets: Type.Optional(Type.Integer({ minimum: 0 })),
  consoleBytes: Type.Integer({ minimum: 0 }),
  cpuThrottledSeconds: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
  pids: Type.Optional(Type.Integer({ minimum: 0, description: 'containers: processes and threads now' })),
  oomKills: Type.Optional(Type.Integer({ minimum: 0, description: 'containers: OOM kills over all runs' })),
});

// ---- NICs and disks of an instance (web console) — begin ----

/** A NIC of an instance: its network, MAC, VLAN, the IPv4 address the network's DHCP leased to it, counters. */
export const InstanceNic = Type.Object(
  {
    name: Type.String({ description: 'e.g. eth0' }),
    network: Type.Union([Type.String(), Type.Null()]),
    mac: Type.Union([Type.String(), Type.Null()]),
    vlan: Type.Union([Type.Integer({ minimum: 1, maximum: 4094 }), Type.Null()]),
    ipv4: Type.Union([Type.String(), Type.Null()], {
      description: "from the network's DHCP lease table, matched by MAC; null without a lease",
    }),
    rxBytes: Type.Integer({ minimum: 0 }),
    txBytes: Type.Integer({ minimum: 0 }),
    rxPackets: Type.Integer({ minimum: 0 }),
    txPackets: Type.Integer({ minimum: 0 }),
  },
  { $id: 'InstanceNic', additionalProperties: false },
);
/** A NIC of an instance. */
export type InstanceNic = Static<typeof InstanceNic>;

/** A disk of an instance: size, format, where it lives, and its I/O counters. */
export const InstanceDisk = Type.Object(
  {
    name: Type.String({ description: 'e.g. root' }),
    sizeBytes: Type.Integer({ minimum: 0 }),
    allocatedBytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
      description: 'host bytes the disk takes (sparse files take less than their size)',
    }),
    format: Type.Union([Type.Literal('raw'), Type.Literal('qcow2')]),
    pool: Type.Union([Type.String(), Type.Null()]),
    volume: Type.Union([Type.String(), Type.Null()]),
    readBytes: Type.Integer({ minimum: 0 }),
    writeBytes: Type.Integer({ minimum: 0 }),
    readOps: Type.Integer({ minimum: 0 }),
    writeOps: Type.Integer({ minimum: 0 }),
  },
  { $id: 'InstanceDisk', additionalProperties: false },
);
/** A disk of an instance. */
export type InstanceDisk = Static<typeof InstanceDisk>;

// ---- NICs and disks of an instance (web console) — end ----

/** GET /1.0/instances/{name}/state: the state, usage next to the limits, and what enforces them. */
export const InstanceState = Type.Object(
  {
    status: InstanceStatus,
    statusReason: Type.Union([Type.String(), Type.Null()]),
    pid: Type.Union([Type.Integer(), Type.Null()]),
    cpus: Type.Integer(),
    memoryBytes: Type.Integer(),
    diskSizeBytes: Type.Integer(),
    limits: Limits,
    usage: Type.Union([Usage, Type.Null()]),
    controls: Type.Object({ kind: Type.String(), summary: Type.String() }),
    // (web console) NICs and disks
    nics: Type.Array(InstanceNic),
    disks: Type.Array(InstanceDisk),
  },
  { $id: 'InstanceState', additionalProperties: false },
);
/** An instance's state. */
export type InstanceState = Static<typeof InstanceState>;

/** POST /1.0/instances/{name}/exec: a command to run in a container. */
export const ExecRequest = Type.Object(
  {
    command: Type.Array(Type.String({ maxLength: 4096 }), { minItems: 1, maxItems: 256 }),
    stdin: Type.Optional(Type.String({ maxLength: 500_000, description: 'input bytes, base64' })),
  },
  { $id: 'ExecRequest', additionalProperties: false },
);
/** An exec request. */
export type ExecRequest = Static<typeof ExecRequest>;

/** What an exec returns: the process's exit code (128+N for signal N) and its output (base64). */
export const ExecResult = Type.Object(
  {
    exitCode: Type.Integer({ minimum: 0, maximum: 255 }),
    stdout: Type.String({ description: 'base64' }),
    stderr: Type.String({ description: 'base64' }),
  },
  { $id: 'ExecResult', additionalProperties: false },
);
/** An exec result. */
export type ExecResult = Static<typeof ExecResult>;

// ---- Live usage samples (web console) — begin ----

/**
 * The data of a `metrics` event: one usage sample of a running instance with its NICs and disks, sent about every
 * two seconds to the event stream's live subscribers (not kept).
 */
export const InstanceMetrics = Type.Object(
  {
    name: Type.String(),
    usage: Usage,
    nics: Type.Array(InstanceNic),
    disks: Type.Array(InstanceDisk),
  },
  { $id: 'InstanceMetrics', additionalProperties: false },
);
/** A usage sample. */
export type InstanceMetrics = Static<typeof InstanceMetrics>;

// ---- Live usage samples (web console) — end ----
