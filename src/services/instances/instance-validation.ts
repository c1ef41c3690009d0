import { StrataError } from '../../base/errors.js';
import { instancePathComponents, MAX_LAUNCH_FILES_BYTES } from '../../base/instance-path.js';
import { parseSizeBytes } from '../../base/units.js';
import { ENGINE_NAMES, type EngineName } from './engine.js';
import type { WorkloadCreateSpec } from './instance-deps.js';
import type { InstanceLimits } from './state-store.js';

/** What a client asks for when it creates an instance. Sizes may be numbers of bytes or text (`512M`). */
export interface CreateInstanceInput {
  name: string;
  image: string;
  engine?: string | undefined;
  cpus?: number | undefined;
  memory?: string | number | undefined;
  diskSize?: string | number | undefined;
  network?: string | null | undefined;
  limits?: Partial<InstanceLimits> | undefined;
  /** Boot it once created (`strata launch`). */
  start?: boolean | undefined;
  /** `vm` (default), `container` or `sandbox`. */
  type?: string | undefined;
  /** Sandboxes: the WebAssembly module, base64. */
  module?: string | undefined;
  /** Containers: host name (an RFC 1123 label; default the instance name). */
  hostname?: string | undefined;
  /** Containers: the init process argv (default the image's console shell). */
  command?: string[] | undefined;
  /** Containers: most processes and threads (cgroup pids.max). */
  pidsLimit?: number | undefined;
  /** Sandboxes: CPU time budget of one run, in milliseconds. */
  cpuTimeLimitMs?: number | undefined;
  /** Sandboxes: argv[1..] of the module. */
  args?: string[] | undefined;
  /** Sandboxes and containers: environment variables. */
  env?: Record<string, string> | undefined;
  /** Sandboxes: files for its folder before the first start. */
  files?: { path: string; content: string }[] | undefined;
}

/** A create request after validation. */
export interface ValidCreate {
  name: string;
  image: string;
  engine: EngineName;
  cpus: number;
  memoryBytes: number;
  diskSizeBytes: number;
  network: string | null;
  limits: InstanceLimits;
  start: boolean;
}

/** Defaults of a new instance. */
export const INSTANCE_DEFAULTS = { memoryBytes: 512 * 1024 ** 2, diskSizeBytes: 4 * 1024 ** 3, cpus: 1 } as const;

/** Default limits: normal CPU weight, no caps. */
export const DEFAULT_LIMITS: InstanceLimits = {
  cpuWeight: 100,
  cpuQuotaPercent: 0,
  diskIops: 0,
  diskBytesPerSec: 0,
  nicBytesPerSec: 0,
};

/** Bounds per engine: memory, vCPUs. */
const ENGINE_BOUNDS: Record<EngineName, { minMemory: number; maxMemory: number; maxCpus: number }> = {
  builtin: { minMemory: 16 * 1024 ** 2, maxMemory: 3 * 1024 ** 3, maxCpus: 1 },
  qemu: { minMemory: 64 * 1024 ** 2, maxMemory: 16 * 1024 ** 3, maxCpus: 8 },
};

/** INVALID_ARGUMENT naming the field. */
export function fieldError(field: string, message: string): StrataError {
  return new StrataError('INVALID_ARGUMENT', `invalid ${field}: ${message}`);
}

/**
 * Throws INVALID_ARGUMENT unless `name` is a valid instance name: 1 to 63 lower-case letters, digits and inner
 * hyphens (a DNS label). No dots or slashes, so a name can never reach outside its folder.
 */
export function checkInstanceName(name: unknown, field = 'name'): asserts name is string {
  if (typeof name !== 'string' || !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) {
    throw fieldError(
      field,
      `'${String(name)}' is not an instance name: use 1-63 lower-case letters, digits and inner '-'`,
    );
  }
}

function size(field: string, value: string | number | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value <= 0) throw fieldError(field, `${value} is not a whole number of bytes`);
    return value;
  }
  try {
    return parseSizeBytes(value, field);
  } catch (err) {
    throw fieldError(field, (err as Error).message.replace(/^invalid \S+ /, ''));
  }
}

function wholeInRange(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw fieldError(field, `'${String(value)}' must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** Validates resource limits, filling defaults from `base`. */
export function validateLimits(limits: Partial<InstanceLimits> | undefined, base = DEFAULT_LIMITS): InstanceLimits {
  const l = { ...base, ...limits };
  return {
    cpuWeight: wholeInRange('limits.cpuWeight', l.cpuWeight, 1, 10_000),
    cpuQuotaPercent: wholeInRange('limits.cpuQuotaPercent', l.cpuQuotaPercent, 0, 100 * 256),
    diskIops: wholeInRange('limits.diskIops', l.diskIops, 0, 10_000_000),
    diskBytesPerSec: wholeInRange('limits.diskBytesPerSec', l.diskBytesPerSec, 0, Number.MAX_SAFE_INTEGER),
    nicBytesPerSec: wholeInRange('limits.nicBytesPerSec', l.nicBytesPerSec, 0, Number.MAX_SAFE_INTEGER),
  };
}

/**
 * Validates a create request field by field; every error names its field. Whether the image, the network and the
 * engine exist is checked by the instance manager.
 */
export function validateCreate(input: CreateInstanceInput): ValidCreate {
  checkInstanceName(input.name);
  refuseWorkloadFields(input);
  if (typeof input.image !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,62}$/.test(input.image)) {
    throw fieldError('image', `'${String(input.image)}' is not an image name`);
  }
  const engine = (input.engine ?? 'builtin') as EngineName;
  if (!ENGINE_NAMES.includes(engine)) {
    throw fieldError('engine', `'${String(input.engine)}': choose one of ${ENGINE_NAMES.join(', ')}`);
  }
  const bounds = ENGINE_BOUNDS[engine];
  const cpus = wholeInRange('cpus', input.cpus ?? INSTANCE_DEFAULTS.cpus, 1, bounds.maxCpus);
  const memoryBytes = size('memory', input.memory, INSTANCE_DEFAULTS.memoryBytes);
  if (memoryBytes < bounds.minMemory || memoryBytes > bounds.maxMemory || memoryBytes % (1024 * 1024) !== 0) {
    throw fieldError(
      'memory',
      `'${String(input.memory)}' must be whole MiB from ${bounds.minMemory / 1024 ** 2}M to ${bounds.maxMemory / 1024 ** 2}M on the ${engine} engine`,
    );
  }
  const diskSizeBytes = size('diskSize', input.diskSize, INSTANCE_DEFAULTS.diskSizeBytes);
  if (diskSizeBytes < 1024 ** 2 || diskSizeBytes > 2 * 1024 ** 4 || diskSizeBytes % 512 !== 0) {
    throw fieldError('diskSize', `'${String(input.diskSize)}' must be a multiple of 512 bytes from 1M to 2T`);
  }
  const network = input.network ?? null;
  // The network store's name rule (services do not import each other, so it is repeated here).
  if (network !== null && (typeof network !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(network))) {
    throw fieldError('network', `'${String(network)}' is not a network name`);
  }
  return {
    name: input.name,
    image: input.image,
    engine,
    cpus,
    memoryBytes,
    diskSizeBytes,
    network,
    limits: validateLimits(input.limits),
    start: input.start === true,
  };
}

/** The instance types a create request may name. */
export const INSTANCE_TYPES = ['vm', 'container', 'sandbox'] as const;

/** The type a create request asks for (default `vm`); INVALID_ARGUMENT naming the field otherwise. */
export function instanceTypeOf(input: CreateInstanceInput): (typeof INSTANCE_TYPES)[number] {
  const t = input.type ?? 'vm';
  if (!(INSTANCE_TYPES as readonly string[]).includes(t)) {
    throw fieldError('type', `'${String(t)}': choose one of ${INSTANCE_TYPES.join(', ')}`);
  }
  return t as (typeof INSTANCE_TYPES)[number];
}

/** A container or sandbox create request after validation: what its backend is given, and which backend. */
export interface ValidWorkloadCreate extends WorkloadCreateSpec {
  type: 'container' | 'sandbox';
}

/** Most processes a container may be limited to (a value above is a typo, not a limit). */
export const MAX_PIDS_LIMIT = 4_194_304;

/** Longest CPU time budget of a sandbox run: one day. */
export const MAX_CPU_TIME_LIMIT_MS = 86_400_000;

/**
 * Throws INVALID_ARGUMENT unless `hostname` is one RFC 1123 label: 1-63 letters, digits and inner hyphens (what a
 * container's UTS namespace gets).
 */
export function checkHostname(hostname: unknown): asserts hostname is string {
  if (typeof hostname !== 'string' || !/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(hostname)) {
    throw fieldError(
      'hostname',
      `'${String(hostname)}' is not a host name label (RFC 1123): use 1-63 letters, digits and inner '-'`,
    );
  }
}

/** Checks a container's init argv: 1-256 arguments, the first not empty, no NUL bytes. */
function checkCommand(command: unknown): string[] {
  if (!Array.isArray(command) || command.length === 0 || command.length > 256) {
    throw fieldError('command', 'give the program and its arguments (1 to 256 strings)');
  }
  for (const a of command) {
    if (typeof a !== 'string' || a.includes('\0')) throw fieldError('command', `'${String(a)}' is not an argument`);
  }
  if (command[0] === '') throw fieldError('command', 'the program is empty');
  return [...command] as string[];
}

/** The fields only one workload type takes, with that type. */
const TYPE_ONLY_FIELDS = {
  hostname: 'container',
  command: 'container',
  pidsLimit: 'container',
  cpuTimeLimitMs: 'sandbox',
  args: 'sandbox',
  files: 'sandbox',
} as const;

/** Refuses container or sandbox settings in a VM create request, naming the field. */
export function refuseWorkloadFields(input: CreateInstanceInput): void {
  if (input.env !== undefined) throw fieldError('env', 'only a container or a sandbox takes it, not a vm');
  for (const [field, owner] of Object.entries(TYPE_ONLY_FIELDS)) {
    if (input[field as keyof typeof TYPE_ONLY_FIELDS] !== undefined) {
      throw fieldError(field, `only a ${owner} takes it, not a vm`);
    }
  }
}

/**
 * Checks a container or sandbox create request: VM-only fields (engine, cpus, disk size, disk and NIC limits) are
 * refused naming the field, and so is a network for a sandbox; a sandbox needs its module (base64), a container
 * must not have one.
 */
export function validateWorkloadCreate(input: CreateInstanceInput, type: 'container' | 'sandbox'): ValidWorkloadCreate {
  checkInstanceName(input.name);
  for (const [field, owner] of Object.entries(TYPE_ONLY_FIELDS)) {
    if (owner !== type && input[field as keyof typeof TYPE_ONLY_FIELDS] !== undefined) {
      throw fieldError(field, `only a ${owner} takes it, not a ${type}`);
    }
  }
  if (input.hostname !== undefined) checkHostname(input.hostname);
  const command = input.command === undefined ? undefined : checkCommand(input.command);
  const pidsLimit =
    input.pidsLimit === undefined ? undefined : wholeInRange('pidsLimit', input.pidsLimit, 1, MAX_PIDS_LIMIT);
  const cpuTimeLimitMs =
    input.cpuTimeLimitMs === undefined
      ? undefined
      : wholeInRange('cpuTimeLimitMs', input.cpuTimeLimitMs, 1, MAX_CPU_TIME_LIMIT_MS);
  for (const field of ['engine', 'cpus', 'diskSize'] as const) {
    if (input[field] !== undefined) throw fieldError(field, `not supported for a ${type}`);
  }
  const args = input.args === undefined ? undefined : checkArgs(input.args);
  const env = input.env === undefined ? undefined : checkEnv(input.env);
  const files = input.files === undefined ? undefined : checkFiles(input.files);
  if (input.network != null && type === 'sandbox') {
    throw fieldError('network', 'a sandbox cannot join a network: a WASI module has no network interface');
  }
  const l = input.limits ?? {};
  for (const field of ['diskIops', 'diskBytesPerSec', 'nicBytesPerSec'] as const) {
    if (l[field] !== undefined && l[field] !== 0) throw fieldError(`limits.${field}`, `not supported for a ${type}`);
  }
  const limits = validateLimits({
    ...(l.cpuWeight !== undefined ? { cpuWeight: l.cpuWeight } : {}),
    ...(l.cpuQuotaPercent !== undefined ? { cpuQuotaPercent: l.cpuQuotaPercent } : {}),
  });
  if (typeof input.image !== 'string' || input.image.length === 0 || input.image.length > 128) {
    throw fieldError('image', `'${String(input.image)}' is not an image name`);
  }
  let module: Uint8Array | undefined;
  if (type === 'sandbox') {
    if (typeof input.module !== 'string' || input.module.length === 0) {
      throw fieldError('module', 'a sandbox needs its WebAssembly module (base64)');
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(input.module)) throw fieldError('module', 'not base64');
    module = new Uint8Array(Buffer.from(input.module, 'base64'));
  } else {
    if (input.module !== undefined) throw fieldError('module', 'only a sandbox takes a module');
    if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(input.image)) {
      throw fieldError('image', `'${input.image}' is not an image name`);
    }
  }
  const memoryBytes = input.memory === undefined ? undefined : size('memory', input.memory, 0);
  if (memoryBytes !== undefined && memoryBytes < 4 * 1024 * 1024) {
    throw fieldError('memory', `'${String(input.memory)}' is below the minimum of 4M`);
  }
  return {
    name: input.name,
    type,
    image: input.image,
    module,
    memoryBytes,
    cpuWeight: l.cpuWeight === undefined ? undefined : limits.cpuWeight,
    cpuQuotaPercent: l.cpuQuotaPercent === undefined ? undefined : limits.cpuQuotaPercent,
    ...(input.network != null ? { network: input.network } : {}),
    hostname: input.hostname,
    command,
    pidsLimit,
    cpuTimeLimitMs,
    args,
    env,
    files,
  };
}

/** Most arguments a sandbox module takes, and most bytes of arguments and environment together. */
export const MAX_ARGS = 256;
export const MAX_ENV_VARS = 256;
export const MAX_ARGS_ENV_BYTES = 64 * 1024;

/** Checks a module's argv[1..]: at most 256 strings, no NUL bytes, 64 KiB in all. */
function checkArgs(args: unknown): string[] {
  if (!Array.isArray(args) || args.length > MAX_ARGS) throw fieldError('args', `give at most ${MAX_ARGS} strings`);
  let bytes = 0;
  for (const a of args) {
    if (typeof a !== 'string' || a.includes('\0')) {
      throw fieldError('args', `'${String(a).replace(/\0/g, '\\0')}' is not an argument (no NUL bytes)`);
    }
    bytes += Buffer.byteLength(a) + 1;
  }
  if (bytes > MAX_ARGS_ENV_BYTES) throw fieldError('args', `${bytes} bytes, at most ${MAX_ARGS_ENV_BYTES}`);
  return [...args] as string[];
}

/** Checks environment variables: names `[A-Za-z_][A-Za-z0-9_]*`, values without NUL, 256 at most, 64 KiB in all. */
function checkEnv(env: unknown): Record<string, string> {
  if (typeof env !== 'object' || env === null || Array.isArray(env)) throw fieldError('env', 'give NAME: value pairs');
  const entries = Object.entries(env as Record<string, unknown>);
  if (entries.length > MAX_ENV_VARS) throw fieldError('env', `${entries.length} variables, at most ${MAX_ENV_VARS}`);
  let bytes = 0;
  for (const [k, v] of entries) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,255}$/.test(k)) {
      throw fieldError(
        'env',
        `'${k.replace(/\0/g, '\\0')}' is not a variable name (letters, digits, _; not first a digit)`,
      );
    }
    if (typeof v !== 'string' || v.includes('\0'))
      throw fieldError('env', `the value of ${k} is not text without NUL bytes`);
    bytes += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
  }
  if (bytes > MAX_ARGS_ENV_BYTES) throw fieldError('env', `${bytes} bytes, at most ${MAX_ARGS_ENV_BYTES}`);
  return Object.fromEntries(entries) as Record<string, string>;
}

/** Checks the files of a sandbox launch: relative paths inside its folder, each once, base64, 640 KiB in all. */
function checkFiles(files: unknown): Record<string, Uint8Array> {
  if (!Array.isArray(files)) throw fieldError('files', 'give a list of {path, content}');
  const out: Record<string, Uint8Array> = {};
  let bytes = 0;
  for (const f of files as { path?: unknown; content?: unknown }[]) {
    let parts: string[];
    try {
      parts = instancePathComponents(f?.path);
    } catch (err) {
      throw fieldError('files', (err as Error).message);
    }
    const path = parts.join('/');
    if (path in out) throw fieldError('files', `'${path}' is given twice`);
    if (typeof f.content !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(f.content)) {
      throw fieldError('files', `the content of '${path}' is not base64`);
    }
    out[path] = new Uint8Array(Buffer.from(f.content, 'base64'));
    bytes += out[path].length;
    if (bytes > MAX_LAUNCH_FILES_BYTES) {
      throw fieldError('files', `more than ${MAX_LAUNCH_FILES_BYTES} bytes in all: push larger files after launch`);
    }
  }
  return out;
}

/** What PATCH /1.0/instances/{name} asks for. */
export interface PatchInput {
  limits?: Partial<InstanceLimits> | undefined;
  memory?: string | number | undefined;
  pidsLimit?: number | undefined;
  cpuTimeLimitMs?: number | undefined;
}

/**
 * Checks a limits change of a container or sandbox: a container takes memory, CPU weight and quota, pids; a
 * sandbox its memory cap and CPU time budget. Any other field is refused naming it and the type.
 */
export function validateWorkloadPatch(
  input: PatchInput,
  type: 'container' | 'sandbox',
): { memoryBytes?: number; cpuWeight?: number; cpuQuotaPercent?: number; pidsLimit?: number; cpuTimeLimitMs?: number } {
  const l = input.limits ?? {};
  const refuse = (field: string, why: string) => fieldError(field, `${why}: '${type}' instances do not have it`);
  for (const field of ['diskIops', 'diskBytesPerSec', 'nicBytesPerSec'] as const) {
    if (l[field] !== undefined) throw refuse(`limits.${field}`, `a ${type} has no disk or NIC rate limit`);
  }
  if (type === 'sandbox') {
    for (const field of ['cpuWeight', 'cpuQuotaPercent'] as const) {
      if (l[field] !== undefined)
        throw refuse(`limits.${field}`, 'a sandbox has a CPU time limit, not a weight or quota');
    }
    if (input.pidsLimit !== undefined) throw refuse('pidsLimit', 'a sandbox runs one module, no processes');
  } else if (input.cpuTimeLimitMs !== undefined) {
    throw refuse('cpuTimeLimitMs', 'a container has a CPU weight and quota, not a CPU time budget');
  }
  const out: ReturnType<typeof validateWorkloadPatch> = {};
  if (l.cpuWeight !== undefined) out.cpuWeight = wholeInRange('limits.cpuWeight', l.cpuWeight, 1, 10_000);
  if (l.cpuQuotaPercent !== undefined) {
    out.cpuQuotaPercent = wholeInRange('limits.cpuQuotaPercent', l.cpuQuotaPercent, 0, 100 * 256);
  }
  if (input.pidsLimit !== undefined) out.pidsLimit = wholeInRange('pidsLimit', input.pidsLimit, 1, MAX_PIDS_LIMIT);
  if (input.cpuTimeLimitMs !== undefined) {
    out.cpuTimeLimitMs = wholeInRange('cpuTimeLimitMs', input.cpuTimeLimitMs, 1, MAX_CPU_TIME_LIMIT_MS);
  }
  if (input.memory !== undefined) {
    const m = size('memory', input.memory, 0);
    if (m < 4 * 1024 * 1024) throw fieldError('memory', `'${String(input.memory)}' is below the minimum of 4M`);
    out.memoryBytes = m;
  }
  if (Object.keys(out).length === 0) throw fieldError('limits', 'nothing to change');
  return out;
}
