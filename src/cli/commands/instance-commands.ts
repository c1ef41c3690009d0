import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type {
  CreateInstance,
  ExecResult,
  Instance,
  InstanceState,
  Limits,
  Operation,
  PatchInstance,
} from '../../api/schema/index.js';
import { StrataError } from '../../base/errors.js';
import { MAX_LAUNCH_FILES_BYTES } from '../../base/instance-path.js';
import { renderTable } from '../../base/table.js';
import { formatBytes, parseSizeBytes } from '../../base/units.js';
import {
  type CliContext,
  type CliRegistrar,
  clientFor,
  ExitCode,
  followOperation,
  formatOption,
} from '../cli-context.js';
import { type OutputFormat, printData } from '../output.js';
import { readLocalFolder } from './file-commands.js';

/** Flags that set resource limits (launch and limits). */
interface LimitFlags {
  cpuWeight?: string;
  cpuQuota?: string;
  diskIops?: string;
  diskBw?: string;
  nicBw?: string;
}

/** The limits the flags ask for (only those given). */
export function limitsFromFlags(o: LimitFlags): Partial<Limits> {
  const out: Partial<Limits> = {};
  const w = wholeNumber(o.cpuWeight, '--cpu-weight');
  if (w !== undefined) out.cpuWeight = w;
  const q = wholeNumber(o.cpuQuota, '--cpu-quota');
  if (q !== undefined) out.cpuQuotaPercent = q;
  const iops = wholeNumber(o.diskIops, '--disk-iops');
  if (iops !== undefined) out.diskIops = iops;
  if (o.diskBw !== undefined) out.diskBytesPerSec = o.diskBw === '0' ? 0 : parseSizeBytes(o.diskBw, '--disk-bw');
  if (o.nicBw !== undefined) out.nicBytesPerSec = o.nicBw === '0' ? 0 : parseSizeBytes(o.nicBw, '--nic-bw');
  return out;
}

function limitOptions(cmd: Command): Command {
  return cmd
    .option('--cpu-weight <n>', 'relative CPU weight 1-10000 (default 100)')
    .option('--cpu-quota <percent>', 'CPU cap in percent of one host CPU (0: none)')
    .option('--disk-iops <n>', 'disk requests per second (0: unlimited)')
    .option('--disk-bw <size>', 'disk bytes per second, e.g. 20M (0: unlimited)')
    .option('--nic-bw <size>', 'NIC bytes per second each way, e.g. 10M (0: unlimited)');
}

interface LaunchOptions extends LimitFlags {
  cpus?: string;
  memory?: string;
  diskSize?: string;
  network?: string;
  engine?: string;
  type?: string;
  quiet?: boolean;
  hostname?: string;
  pidsLimit?: string;
  command?: string;
  cpuTimeLimit?: string;
  env?: string[];
  dir?: string;
}

/** Launch flags that only one instance type takes. */
const TYPE_ONLY_FLAGS: readonly [keyof LaunchOptions, string, 'container' | 'sandbox'][] = [
  ['hostname', '--hostname', 'container'],
  ['pidsLimit', '--pids-limit', 'container'],
  ['command', '--command', 'container'],
  ['cpuTimeLimit', '--cpu-time-limit', 'sandbox'],
  ['dir', '--dir', 'sandbox'],
];

/** `--env NAME=value` (repeatable) as an object; the daemon checks names and sizes. */
export function envFromFlags(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new StrataError('INVALID_ARGUMENT', `invalid --env '${p}': give NAME=value`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function wholeNumber(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text))
    throw new StrataError('INVALID_ARGUMENT', `invalid ${flag} '${text}': expected a whole number`);
  return Number(text);
}

function path(name: string): string {
  return `/1.0/instances/${encodeURIComponent(name)}`;
}

/** Registers the instance commands: launch, list, info, start, stop, restart, pause, resume, delete. */
export const registerInstanceCommands: CliRegistrar = (program: Command, ctx: CliContext) => {
  limitOptions(
    program
      .command('launch')
      .description('create an instance from an image and boot it (through the daemon)')
      .argument('<image>', 'image name (see strata image list); a .wasm file for --type sandbox')
      .argument('<name>', 'instance name: lower-case letters, digits and inner -')
      .option('--cpus <n>', 'vCPUs (builtin engine: 1)')
      .option('--memory <size>', 'guest RAM, a hard cap (e.g. 512M)')
      .option('--disk-size <size>', 'root disk size (e.g. 4G)')
      .option('--network <name>', 'attach to this network')
      .option('--engine <engine>', 'builtin (default) or qemu')
      .option('--type <type>', 'vm (default), container (runc, from a container image) or sandbox (a WASI module)')
      .option('--hostname <name>', 'container: host name inside (default the instance name)')
      .option('--pids-limit <n>', 'container: most processes and threads')
      .option('--command <command>', "container: the init process, run by /bin/sh -c (default the image's shell)")
      .option('--cpu-time-limit <ms>', 'sandbox: CPU time budget of one run in ms (default 10000)')
      .option('--env <NAME=value>', 'container or sandbox: an environment variable (repeatable)', collect)
      .option('--dir <folder>', "sandbox: copy this local folder's files into its folder before it starts")
      .argument('[command...]', "after --: a container's init process and its arguments; a sandbox module's arguments")
      .option('-q, --quiet', 'no progress line'),
  ).action(async (image: string, name: string, argv: string[], opts: LaunchOptions) => {
    const client = clientFor(ctx);
    const body: CreateInstance = { name, image, start: true };
    const type = opts.type ?? 'vm';
    if (type !== 'vm' && type !== 'container' && type !== 'sandbox') {
      throw new StrataError('INVALID_ARGUMENT', `invalid --type '${type}': choose vm, container or sandbox`);
    }
    if (opts.type !== undefined) body.type = type;
    for (const [key, flag, owner] of TYPE_ONLY_FLAGS) {
      if (opts[key] !== undefined && type !== owner) {
        throw new StrataError('INVALID_ARGUMENT', `${flag} is for a ${owner} (--type ${owner}), not a ${type}`);
      }
    }
    if (argv.length > 0 && type === 'vm') {
      throw new StrataError(
        'INVALID_ARGUMENT',
        'arguments after -- are for a container (its init) or a sandbox (its module), not a vm',
      );
    }
    if (opts.env !== undefined) {
      if (type === 'vm') throw new StrataError('INVALID_ARGUMENT', '--env is for a container or a sandbox, not a vm');
      body.env = envFromFlags(opts.env);
    }
    if (argv.length > 0 && opts.command !== undefined) {
      throw new StrataError('INVALID_ARGUMENT', 'give the command either after -- or with --command, not both');
    }
    if (opts.hostname !== undefined) body.hostname = opts.hostname;
    const pids = wholeNumber(opts.pidsLimit, '--pids-limit');
    if (pids !== undefined) body.pidsLimit = pids;
    const cpuTime = wholeNumber(opts.cpuTimeLimit, '--cpu-time-limit');
    if (cpuTime !== undefined) body.cpuTimeLimitMs = cpuTime;
    if (argv.length > 0) {
      if (type === 'sandbox') body.args = argv;
      else body.command = argv;
    }
    if (opts.command !== undefined) body.command = ['/bin/sh', '-c', opts.command];
    if (opts.dir !== undefined) {
      const files = await readLocalFolder(opts.dir, MAX_LAUNCH_FILES_BYTES);
      body.files = files.map((f) => ({ path: f.path, content: f.content.toString('base64') }));
    }
    if (opts.type === 'sandbox') {
      const bytes = await readFile(image).catch((err: NodeJS.ErrnoException) => {
        throw new StrataError(err.code === 'ENOENT' ? 'NOT_FOUND' : 'IO', `cannot read ${image}: ${err.message}`);
      });
      body.module = bytes.toString('base64');
      body.image = image.split('/').pop() || image;
    }
    const cpus = wholeNumber(opts.cpus, '--cpus');
    if (cpus !== undefined) body.cpus = cpus;
    if (opts.memory) body.memory = opts.memory;
    if (opts.diskSize) body.diskSize = opts.diskSize;
    if (opts.network) body.network = opts.network;
    if (opts.engine) body.engine = opts.engine;
    const limits = limitsFromFlags(opts);
    if (Object.keys(limits).length > 0) body.limits = limits;
    const op = await client.call<Operation>('POST', '/1.0/instances', body);
    await followOperation(ctx, client, op, `launching ${name}`, opts.quiet);
    ctx.stdout.write(
      `launched ${name}: strata console ${name} to see its ${opts.type === 'sandbox' ? 'output' : 'shell'}\n`,
    );
  });

  program
    .command('exec')
    .description('run a command in a running container; exits with its exit code')
    .argument('<name>', 'container name')
    .argument('<command...>', 'the program and its arguments (after --)')
    .action(async (name: string, command: string[]) => {
      const r = await clientFor(ctx).call<ExecResult>('POST', `${path(name)}/exec`, { command });
      ctx.stdout.write(Buffer.from(r.stdout, 'base64'));
      ctx.stderr.write(Buffer.from(r.stderr, 'base64'));
      if (r.exitCode !== 0) throw new ExitCode(r.exitCode);
    });

  limitOptions(
    program
      .command('limits')
      .description('change resource limits: a VM or a running container gets them at once, a sandbox from its next run')
      .argument('<name>', 'instance name')
      .option('--memory <size>', 'container: memory cap (e.g. 64M); sandbox: linear memory cap')
      .option('--pids-limit <n>', 'container: most processes and threads')
      .option('--cpu-time-limit <ms>', 'sandbox: CPU time budget of one run in ms'),
  ).action(async (name: string, opts: LimitFlags & { memory?: string; pidsLimit?: string; cpuTimeLimit?: string }) => {
    const limits = limitsFromFlags(opts);
    const body: PatchInstance = {};
    if (Object.keys(limits).length > 0) body.limits = limits;
    if (opts.memory !== undefined) body.memory = opts.memory;
    const pids = wholeNumber(opts.pidsLimit, '--pids-limit');
    if (pids !== undefined) body.pidsLimit = pids;
    const cpuTime = wholeNumber(opts.cpuTimeLimit, '--cpu-time-limit');
    if (cpuTime !== undefined) body.cpuTimeLimitMs = cpuTime;
    if (Object.keys(body).length === 0) {
      throw new StrataError(
        'INVALID_ARGUMENT',
        'no limit given: use --cpu-weight, --cpu-quota, --memory, --pids-limit, --cpu-time-limit, --disk-iops, --disk-bw or --nic-bw',
      );
    }
    const client = clientFor(ctx);
    await client.call<Instance>('PATCH', path(name), body);
    const inst = await client.call<Instance>('GET', path(name));
    const state = await client.call<InstanceState>('GET', `${path(name)}/state`);
    ctx.stdout.write(renderInfo(inst, state));
  });

  program
    .command('list')
    .alias('ls')
    .description('list instances')
    .addOption(formatOption())
    .action(async (opts: { format: OutputFormat }) => {
      const list = await clientFor(ctx).call<Instance[]>('GET', '/1.0/instances');
      printData(ctx.stdout, opts.format, list, () =>
        renderTable<Instance>(list, [
          { header: 'name', cell: (i) => i.name },
          { header: 'type', cell: (i) => i.type },
          { header: 'status', cell: (i) => i.status },
          { header: 'engine', cell: (i) => i.engine },
          { header: 'image', cell: (i) => i.image },
          { header: 'cpus', cell: (i) => (i.type === 'vm' ? String(i.cpus) : '-'), align: 'right' },
          { header: 'memory', cell: (i) => listMemory(i), align: 'right' },
          { header: 'disk', cell: (i) => (i.type === 'vm' ? formatBytes(i.diskSizeBytes) : '-'), align: 'right' },
          { header: 'pid', cell: (i) => (i.vmmPid === null ? '-' : String(i.vmmPid)), align: 'right' },
          { header: 'reason', cell: (i) => (i.status === 'failed' ? (i.statusReason ?? '') : '') },
        ]),
      );
    });

  program
    .command('info')
    .description('show an instance: its definition, and its usage next to its limits')
    .argument('<name>', 'instance name')
    .addOption(formatOption())
    .action(async (name: string, opts: { format: OutputFormat }) => {
      const client = clientFor(ctx);
      const inst = await client.call<Instance>('GET', path(name));
      const state = await client.call<InstanceState>('GET', `${path(name)}/state`);
      printData(ctx.stdout, opts.format, { ...inst, state }, () => renderInfo(inst, state));
    });

  const simple: [string, string, 'start' | 'restart' | 'pause' | 'resume' | 'stop'][] = [
    ['start', 'boot a stopped (or failed) instance', 'start'],
    ['restart', 'stop and boot again', 'restart'],
    ['pause', 'stop running guest instructions (guest time stands still)', 'pause'],
    ['resume', 'run a paused instance again', 'resume'],
  ];
  for (const [cmd, description, action] of simple) {
    program
      .command(cmd)
      .description(description)
      .argument('<name>', 'instance name')
      .option('-q, --quiet', 'no progress line')
      .action(async (name: string, opts: { quiet?: boolean }) => {
        await changeState(ctx, name, action, false, opts.quiet);
      });
  }
  program
    .command('stop')
    .description('stop an instance (the builtin engine powers it off at once)')
    .argument('<name>', 'instance name')
    .option('-f, --force', 'stop even while it is starting or stopping; kill a VMM that does not answer')
    .option('-q, --quiet', 'no progress line')
    .action(async (name: string, opts: { force?: boolean; quiet?: boolean }) => {
      await changeState(ctx, name, 'stop', opts.force === true, opts.quiet);
    });

  program
    .command('export')
    .description("copy a stopped instance's root disk to $STRATA_HOME/exports (sparse raw), with a progress bar")
    .argument('<name>', 'instance name')
    .option('-q, --quiet', 'no progress bar')
    .action(async (name: string, opts: { quiet?: boolean }) => {
      const client = clientFor(ctx);
      const op = await client.call<Operation>('POST', `${path(name)}/export`);
      const done = await followOperation(ctx, client, op, `exporting ${name}`, opts.quiet);
      ctx.stdout.write(`exported ${name} to ${done.result?.path ?? '(unknown)'}\n`);
    });

  program
    .command('delete')
    .alias('rm')
    .description('delete an instance and its disk (a running one only with --force)')
    .argument('<name>', 'instance name')
    .option('-f, --force', 'stop it first if it runs')
    .option('-q, --quiet', 'no progress line')
    .action(async (name: string, opts: { force?: boolean; quiet?: boolean }) => {
      const client = clientFor(ctx);
      const op = await client.call<Operation>('DELETE', `${path(name)}${opts.force ? '?force=true' : ''}`);
      await followOperation(ctx, client, op, `deleting ${name}`, opts.quiet);
      ctx.stdout.write(`deleted ${name}\n`);
    });
};

async function changeState(
  ctx: CliContext,
  name: string,
  action: string,
  force: boolean,
  quiet?: boolean,
): Promise<void> {
  const client = clientFor(ctx);
  const op = await client.call<Operation>('PUT', `${path(name)}/state`, { action, ...(force ? { force } : {}) });
  await followOperation(ctx, client, op, `${action} ${name}`, quiet);
  const inst = await client.call<Instance>('GET', path(name));
  ctx.stdout.write(`${name}: ${inst.status}\n`);
}

/** The memory column of `strata list`: a VM's RAM, a container's or sandbox's cap ('-' when it has none). */
function listMemory(i: Instance): string {
  if (i.type === 'vm') return formatBytes(i.memoryBytes);
  const cap = i.container ? i.container.memoryLimitBytes : (i.sandbox?.memoryLimitBytes ?? null);
  return cap === null ? '-' : formatBytes(cap);
}

function rate(v: number, unit: string): string {
  return v > 0 ? `${v} ${unit}` : 'unlimited';
}

/** The `strata info` text of a container or sandbox: its settings, then each limit beside its usage. */
function renderWorkloadInfo(inst: Instance, st: InstanceState): string {
  const u = st.usage;
  const c = inst.container;
  const sb = inst.sandbox;
  const lines = [
    `name:     ${inst.name}`,
    `status:   ${inst.status}${st.pid ? ` (init pid ${st.pid})` : ''}${inst.statusReason && inst.status !== 'running' ? ` - ${inst.statusReason}` : ''}`,
    `type:     ${inst.type}`,
    `image:    ${inst.image}`,
    ...(inst.exitCode !== undefined
      ? [`exit:     ${inst.exitCode === null ? 'none (ended by a signal or limit)' : inst.exitCode}`]
      : []),
    ...(sb?.lastEnd ? [`ended by: ${sb.lastEnd}`] : []),
    `engine:   ${inst.engine}`,
    ...(c ? [`hostname: ${c.hostname}`, `command:  ${c.command.map(shellWord).join(' ')}`] : []),
    ...(sb ? [`args:     ${sb.args.length > 0 ? sb.args.map(shellWord).join(' ') : '(none)'}`] : []),
    ...Object.entries(c?.env ?? sb?.env ?? {}).map(([k, v]) => `env:      ${k}=${shellWord(v)}`),
    ...(c ? [`OOM kills: ${u?.oomKills ?? c.oomKills}`] : []),
    `created:  ${inst.createdAt}`,
    '',
  ];
  const rows: [string, string, string][] = [];
  if (c) {
    rows.push(
      ['CPU', '-', u ? `${u.cpuSeconds.toFixed(2)} s CPU time` : '-'],
      ['CPU weight', String(c.cpuWeight ?? 100), '-'],
      [
        'CPU quota',
        c.cpuQuotaPercent ? `${c.cpuQuotaPercent}% of a CPU` : 'none',
        u?.cpuThrottledSeconds != null ? `${u.cpuThrottledSeconds.toFixed(1)} s throttled` : '-',
      ],
      [
        'memory',
        c.memoryLimitBytes !== null ? `${formatBytes(c.memoryLimitBytes)} (hard cap)` : 'none',
        u ? `${formatBytes(u.memoryRssBytes)} in use` : '-',
      ],
      [
        'processes',
        c.pidsLimit !== null ? String(c.pidsLimit) : 'unlimited',
        u?.pids !== undefined ? `${u.pids} now` : '-',
      ],
      ['disk I/O', '-', u ? `${formatBytes(u.diskReadBytes)} read, ${formatBytes(u.diskWriteBytes)} written` : '-'],
      ['network', '-', u ? `${formatBytes(u.nicRxBytes)} in, ${formatBytes(u.nicTxBytes)} out` : '-'],
    );
  }
  if (sb) {
    rows.push(
      ['CPU time', `${sb.cpuTimeLimitMs} ms per run`, u ? `${Math.round(u.cpuSeconds * 1000)} ms used` : '-'],
      [
        'memory',
        `${formatBytes(sb.memoryLimitBytes)} (linear memory cap)`,
        u ? `${formatBytes(u.memoryRssBytes)}` : '-',
      ],
    );
  }
  rows.push(['console', '-', u ? `${formatBytes(u.consoleBytes)} written` : '-']);
  const table = renderTable(rows, [
    { header: 'resource', cell: (r) => r[0] },
    { header: 'limit', cell: (r) => r[1] },
    { header: 'usage', cell: (r) => r[2] },
  ]);
  return `${lines.join('\n')}${table}`;
}

/** An argument as a POSIX shell word (quoted when it needs to be). */
function shellWord(a: string): string {
  return /^[A-Za-z0-9_./=:@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** The `strata info` text: definition, then a table of each resource's limit beside its usage. */
export function renderInfo(inst: Instance, st: InstanceState): string {
  if (inst.type !== 'vm') return renderWorkloadInfo(inst, st);
  const u = st.usage;
  const l = st.limits;
  const lines = [
    `name:     ${inst.name}`,
    `status:   ${inst.status}${st.pid ? ` (VMM pid ${st.pid})` : ''}${inst.statusReason && inst.status !== 'running' ? ` - ${inst.statusReason}` : ''}`,
    `type:     ${inst.type}`,
    `image:    ${inst.image}`,
    ...(inst.exitCode !== undefined
      ? [`exit:     ${inst.exitCode === null ? 'none (ended by a signal or limit)' : inst.exitCode}`]
      : []),
    `engine:   ${inst.engine}`,
    `network:  ${inst.network ?? 'none'}`,
    `created:  ${inst.createdAt}`,
    '',
  ];
  const rows: [string, string, string][] = [
    ['vCPUs', String(inst.cpus), u ? `${u.cpuSeconds.toFixed(1)} s CPU time` : '-'],
    ['CPU weight', String(l.cpuWeight), '-'],
    [
      'CPU quota',
      l.cpuQuotaPercent > 0 ? `${l.cpuQuotaPercent}% of a CPU` : 'none',
      u?.cpuThrottledSeconds != null ? `${u.cpuThrottledSeconds.toFixed(1)} s throttled` : '-',
    ],
    [
      'memory',
      `${formatBytes(inst.memoryBytes)} (hard cap)`,
      u ? `${formatBytes(u.memoryRssBytes)} VMM resident` : '-',
    ],
    ['disk size', formatBytes(inst.diskSizeBytes), '-'],
    ['disk IOPS', rate(l.diskIops, 'op/s'), u ? `${u.diskReadOps} reads, ${u.diskWriteOps} writes` : '-'],
    [
      'disk bandwidth',
      l.diskBytesPerSec > 0 ? `${formatBytes(l.diskBytesPerSec)}/s` : 'unlimited',
      u ? `${formatBytes(u.diskReadBytes)} read, ${formatBytes(u.diskWriteBytes)} written` : '-',
    ],
    [
      'NIC rate',
      l.nicBytesPerSec > 0 ? `${formatBytes(l.nicBytesPerSec)}/s` : 'unlimited',
      u ? `${formatBytes(u.nicRxBytes)} in, ${formatBytes(u.nicTxBytes)} out` : '-',
    ],
  ];
  const table = renderTable(rows, [
    { header: 'resource', cell: (r) => r[0] },
    { header: 'limit', cell: (r) => r[1] },
    { header: 'usage', cell: (r) => r[2] },
  ]);
  return `${lines.join('\n')}${table}\nresource controls: ${st.controls.summary}\n`;
}
