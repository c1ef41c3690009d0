import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import { StrataError } from '../../base/errors.js';
import { renderTable } from '../../base/table.js';
import { OUTPUT_FORMATS, type OutputFormat, printData } from '../../cli/output.js';
import { defaultStrataHome } from '../../services/images/image-store.js';
import { controlRequest, ensureNetworkServed, serveNetworkGroup } from '../../services/network/network-service.js';
import { NetworkStore } from '../../services/network/network-store.js';
import { type CommandContext, type CommandRegistrar, choiceOption, UsageError } from '../program.js';
import {
  gatewayWithPrefix,
  localNetworks,
  type NetworkAccess,
  type NetworkItem,
  remoteNetworks,
  vlanOf,
} from './network-access.js';
import { REMOTE_RULE_HELP, refuseRemote, remoteClient } from './remote-rule.js';

/** Seconds a network started on demand keeps running after its last NIC detached. */
export const ON_DEMAND_IDLE_SECONDS = 10;

/** The `strata` executable of this installation (bin/strata.js beside dist/ or src/). */
const STRATA_BIN = fileURLToPath(new URL('../../../bin/strata.js', import.meta.url));

/** The network store of the process's Strata home. */
export function networkStore(env: NodeJS.ProcessEnv): NetworkStore {
  return new NetworkStore(defaultStrataHome(env));
}

/**
 * Starts `strata network serve NAME` as a detached background process that outlives the caller and stops
 * ON_DEMAND_IDLE_SECONDS after its last NIC is gone; its output goes to `$STRATA_HOME/run/net-NAME.log`.
 */
export function spawnNetworkServer(store: NetworkStore, name: string, env: NodeJS.ProcessEnv): void {
  mkdirSync(store.runDir, { recursive: true });
  const log = openSync(resolve(store.runDir, `net-${name}.log`), 'a');
  try {
    const child = spawn(
      process.execPath,
      [STRATA_BIN, 'network', 'serve', name, '--idle-timeout', String(ON_DEMAND_IDLE_SECONDS)],
      { detached: true, stdio: ['ignore', log, log], env: { ...env, STRATA_HOME: store.home } },
    );
    child.on('error', () => {});
    child.unref();
  } finally {
    closeSync(log);
  }
}

/** Makes sure network `name` is served, starting a background server when none runs. */
export async function ensureServed(store: NetworkStore, name: string, env: NodeJS.ProcessEnv): Promise<void> {
  await ensureNetworkServed(store, name, () => spawnNetworkServer(store, name, env));
}

type Format = OutputFormat;

/** The networks the command acts on: the daemon's when STRATA_URL is set, else the local home's. */
function networksOf(env: NodeJS.ProcessEnv): NetworkAccess {
  const client = remoteClient(env);
  return client ? remoteNetworks(client) : localNetworks(networkStore(env));
}

/**
 * Wraps a command action: a bad value given on the command line (INVALID_ARGUMENT: a malformed name, subnet,
 * VLAN id, target) is a usage error (exit 2); conflicts and unknown networks stay failures (exit 1).
 */
function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof StrataError && err.code === 'INVALID_ARGUMENT') throw new UsageError(err.message);
      throw err;
    }
  };
}
const formatOption = () => choiceOption('--format <format>', 'output format', OUTPUT_FORMATS, 'table');

function positiveInt(what: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < 1) {
      throw new StrataError('INVALID_ARGUMENT', `invalid ${what} '${v}': must be a positive whole number`);
    }
    return Number(v);
  };
}

function nonNegativeNumber(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new StrataError('INVALID_ARGUMENT', `invalid ${what} '${v}': must be a number of seconds, 0 or more`);
    }
    return n;
  };
}

function openflowText(n: NetworkItem) {
  const rt = n.runtime;
  if (rt) return `${rt.openflow.mode}:${rt.openflow.host}:${rt.openflow.port}`;
  return n.openflow ?? 'ptcp (port chosen when served)';
}

/**
 * Registers `strata network create|list|show|delete|serve|flows|capture`: virtual networks as objects. A network
 * runs only while NICs use it: the first `strata run --nic network=NAME` starts a background `strata network
 * serve NAME` (switch, router, OpenFlow agent), which ends some seconds after the last NIC is gone.
 */
export const registerNetworkCommands: CommandRegistrar = (program: Command, ctx: CommandContext) => {
  const network = program
    .command('network')
    .description('virtual networks: switches with VLANs and OpenFlow, routers with DHCP, DNS and NAT')
    .addHelpText(
      'after',
      [
        '',
        'Definitions live in $STRATA_HOME/networks; a network runs (in a background `strata network serve`)',
        'while NICs are attached: `strata run --nic network=NAME` starts it. Example:',
        '  strata network create lab --subnet 10.0.1.0/24 --dhcp --nat',
        '  strata run --image debian --nic network=lab',
        '',
        ...REMOTE_RULE_HELP,
        '`serve` and `capture` run on the daemon host only.',
        '',
      ].join('\n'),
    );

  network
    .command('create')
    .description('define a network')
    .argument('<name>', "network name: letters, digits, '-' and '_' (at most 32)")
    .option('--subnet <cidr>', 'IPv4 subnet with a router, e.g. 10.0.1.0/24 (without it: a plain switch)')
    .option('--gateway <ip>', "the router's address on the subnet (default the first host address)")
    .option('--vlan <id>', 'access VLAN (1-4094) of the network on its switch (default 1)')
    .option('--dhcp', 'the router hands out addresses by DHCP')
    .option('--nat', "guests reach the host's loopback services through the gateway address; DNS is forwarded")
    .option('--router <name>', 'share a router with the other networks naming it: it routes between them')
    .option('--openflow <target>', 'OpenFlow controller: tcp:ADDR[:PORT] to connect, ptcp:PORT[:ADDR] to listen')
    .addHelpText(
      'after',
      [
        '',
        'By default the switch listens for OpenFlow controllers on an ephemeral port of 127.0.0.1 (see',
        '`strata network show`), so `ovs-ofctl -O OpenFlow13 dump-flows tcp:127.0.0.1:PORT` works.',
        "A subnet overlapping another network's is refused. Nothing runs until a NIC attaches.",
      ].join('\n'),
    )
    .action(
      action(
        async (
          name: string,
          opts: {
            subnet?: string;
            gateway?: string;
            vlan?: string;
            dhcp?: boolean;
            nat?: boolean;
            router?: string;
            openflow?: string;
          },
        ) => {
          const vlan = vlanOf(opts.vlan);
          const n = await networksOf(ctx.env).create({
            name,
            ...(opts.subnet !== undefined ? { subnet: opts.subnet } : {}),
            ...(opts.gateway !== undefined ? { gateway: opts.gateway } : {}),
            ...(vlan !== undefined ? { vlan } : {}),
            dhcp: opts.dhcp === true,
            nat: opts.nat === true,
            ...(opts.router !== undefined ? { router: opts.router } : {}),
            ...(opts.openflow !== undefined ? { openflow: opts.openflow } : {}),
          });
          ctx.stdout.write(
            `created network ${n.name}${n.subnet ? ` (${n.subnet}, gateway ${gatewayWithPrefix(n)})` : ''}\n`,
          );
        },
      ),
    );

  network
    .command('list')
    .alias('ls')
    .description('list the networks and whether they are running')
    .addOption(formatOption())
    .action(
      action(async (opts: { format: Format }) => {
        const rows = await networksOf(ctx.env).list();
        printData(ctx.stdout, opts.format, rows, () =>
          renderTable(rows, [
            { header: 'name', cell: (r) => r.name },
            { header: 'subnet', cell: (r) => r.subnet ?? '-' },
            { header: 'gateway', cell: (r) => r.gateway ?? '-' },
            { header: 'vlan', cell: (r) => String(r.vlan ?? 1), align: 'right' },
            { header: 'dhcp', cell: (r) => (r.dhcp ? 'yes' : 'no') },
            { header: 'nat', cell: (r) => (r.nat ? 'yes' : 'no') },
            { header: 'router', cell: (r) => r.router ?? '-' },
            { header: 'state', cell: (r) => (r.runtime ? `running (pid ${r.runtime.pid})` : 'stopped') },
          ]),
        );
      }),
    );

  network
    .command('show')
    .description('show a network: definition, OpenFlow endpoint, ports with counters, DHCP leases')
    .argument('<name>', 'network name')
    .addOption(formatOption())
    .action(
      action(async (name: string, opts: { format: Format }) => {
        const n = await networksOf(ctx.env).show(name);
        if (opts.format !== 'table') {
          printData(ctx.stdout, opts.format, n, () => '');
          return;
        }
        const lines = [
          `name:      ${n.name}`,
          `subnet:    ${n.subnet ?? '-'}`,
          `gateway:   ${gatewayWithPrefix(n) ?? '-'}`,
          `vlan:      ${n.vlan ?? 1}`,
          `dhcp:      ${n.dhcp ? 'yes' : 'no'}`,
          `nat:       ${n.nat ? 'yes' : 'no'}`,
          `router:    ${n.router ?? '(its own)'}`,
          `openflow:  ${openflowText(n)}`,
          `state:     ${n.runtime ? `running (pid ${n.runtime.pid}), datapath ${n.runtime.datapathId}` : 'stopped'}`,
          `endpoint:  ${n.runtime?.socket ?? '- (made when it runs)'}`,
          `created:   ${n.createdAt}`,
        ];
        ctx.stdout.write(`${lines.join('\n')}\n`);
        if (n.running) {
          ctx.stdout.write('\nports:\n');
          ctx.stdout.write(
            renderTable(n.ports, [
              { header: 'no', cell: (p) => String(p.no), align: 'right' },
              { header: 'name', cell: (p) => p.name },
              { header: 'vlan', cell: (p) => (p.vlan.mode === 'access' ? String(p.vlan.vlan) : 'trunk') },
              { header: 'rx pkts', cell: (p) => String(p.counters.rxPackets), align: 'right' },
              { header: 'rx bytes', cell: (p) => String(p.counters.rxBytes), align: 'right' },
              { header: 'tx pkts', cell: (p) => String(p.counters.txPackets), align: 'right' },
              { header: 'tx bytes', cell: (p) => String(p.counters.txBytes), align: 'right' },
              { header: 'drops', cell: (p) => String(p.counters.rxDropped + p.counters.txDropped), align: 'right' },
              { header: 'errors', cell: (p) => String(p.counters.rxErrors), align: 'right' },
            ]),
          );
          if (n.leases.length > 0) {
            ctx.stdout.write('\nleases:\n');
            ctx.stdout.write(
              renderTable(n.leases, [
                { header: 'ip', cell: (l) => l.ip },
                { header: 'mac', cell: (l) => l.mac },
                { header: 'state', cell: (l) => l.state },
                { header: 'hostname', cell: (l) => l.hostname ?? '' },
              ]),
            );
          }
        }
      }),
    );

  network
    .command('delete')
    .alias('rm')
    .description('delete a network definition (refused while it runs)')
    .argument('<name>', 'network name')
    .action(
      action(async (name: string) => {
        await networksOf(ctx.env).remove(name);
        ctx.stdout.write(`deleted network ${name}\n`);
      }),
    );

  network
    .command('serve')
    .description('run a network (and the others sharing its router) in the foreground until stopped or idle')
    .argument('<name>', 'network name')
    .addOption(
      new Option('--idle-timeout <seconds>', 'stop after this long without attached NICs (0: never)')
        .argParser(nonNegativeNumber('idle timeout'))
        .default(0),
    )
    .addHelpText(
      'after',
      '\n`strata run --nic` starts this by itself in the background when the network is not running.\n' +
        'It ends on SIGINT/SIGTERM. The daemon may host networks instead (same function).\n',
    )
    .action(
      action(async (name: string, opts: { idleTimeout: number }) => {
        refuseRemote(ctx.env, 'network serve', 'it runs the network in this process, on this machine');
        const store = networkStore(ctx.env);
        const host = await serveNetworkGroup(store, name, { idleSeconds: opts.idleTimeout });
        process.title = `strata-network ${host.key}`;
        const stop = () => void host.close();
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        const names = [...host.networks.values()].map(
          (s) =>
            `${s.spec.name} (openflow ${s.runtime.openflow.mode}:${s.runtime.openflow.host}:${s.runtime.openflow.port})`,
        );
        ctx.stdout.write(`serving ${names.join(', ')}\n`);
        await host.stopped;
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        ctx.stdout.write(`stopped ${host.key}\n`);
      }),
    );

  network
    .command('flows')
    .description("print a running network's OpenFlow flow table (table, priority, match, actions, counters)")
    .argument('<name>', 'network name')
    .addOption(formatOption())
    .action(
      action(async (name: string, opts: { format: Format }) => {
        const rows = await networksOf(ctx.env).flows(name);
        printData(ctx.stdout, opts.format, rows, () =>
          renderTable(rows, [
            { header: 'table', cell: (r) => String(r.table), align: 'right' },
            { header: 'priority', cell: (r) => String(r.priority), align: 'right' },
            { header: 'match', cell: (r) => r.match },
            { header: 'actions', cell: (r) => r.actions },
            { header: 'packets', cell: (r) => String(r.packets), align: 'right' },
            { header: 'bytes', cell: (r) => String(r.bytes), align: 'right' },
            { header: 'cookie', cell: (r) => r.cookie },
            { header: 'duration', cell: (r) => `${r.durationS}s`, align: 'right' },
          ]),
        );
      }),
    );

  network
    .command('capture')
    .description('capture the frames of one switch port to a pcap file (readable by tshark/wireshark)')
    .argument('<name>', 'network name')
    .requiredOption('--port <port>', 'switch port: its name or number (see `strata network show`)')
    .requiredOption('--output <file>', 'pcap file to write')
    .addOption(new Option('--count <n>', 'stop after this many frames').argParser(positiveInt('frame count')))
    .addOption(
      new Option('--duration <seconds>', 'stop after this long').argParser(nonNegativeNumber('capture duration')),
    )
    .addHelpText('after', '\nWithout --count or --duration the capture runs until Ctrl-C.\n')
    .action(
      action(async (name: string, opts: { port: string; output: string; count?: number; duration?: number }) => {
        refuseRemote(
          ctx.env,
          'network capture',
          'it writes the pcap file through the control socket of the network process, on the daemon host',
        );
        const store = networkStore(ctx.env);
        await store.get(name);
        const path = resolve(opts.output);
        // Ctrl-C ends the capture: the server closes the file and reports what it wrote.
        const stop = new AbortController();
        const onSigint = () => stop.abort();
        process.on('SIGINT', onSigint);
        let r: { frames: number; dropped: number };
        try {
          r = await controlRequest<{ frames: number; dropped: number }>(
            store.runDir,
            name,
            {
              op: 'capture',
              port: opts.port,
              path,
              ...(opts.count !== undefined ? { count: opts.count } : {}),
              ...(opts.duration !== undefined ? { durationMs: Math.round(opts.duration * 1000) } : {}),
            },
            stop.signal,
          );
        } finally {
          process.off('SIGINT', onSigint);
        }
        ctx.stdout.write(
          `captured ${r.frames} frame${r.frames === 1 ? '' : 's'} to ${path}${r.dropped ? ` (${r.dropped} dropped)` : ''}\n`,
        );
      }),
    );
};
