import { useEffect, useState } from 'preact/hooks';
import type { CreateInstance, Image, Instance, Network, Operation, ServerInfo } from '../api/schema/index.js';
import { api, messageOf } from './api.js';
import { type CreateField, fieldOfError, withoutField } from './field-errors.js';
import { parseEnv, splitArgs } from './format.js';
import { Field, FormDialog, fieldAttrs, TYPE_LABEL, useForm } from './ui.js';

type Kind = Instance['type'];

/** What the form holds (text, as typed); each type shows and sends only its own fields. */
interface Form extends Record<string, string | boolean> {
  type: Kind;
  name: string;
  image: string;
  engine: string;
  cpus: string;
  memory: string;
  diskSize: string;
  /** A network name, or '' for none. */
  network: string;
  hostname: string;
  command: string;
  pidsLimit: string;
  cpuWeight: string;
  cpuQuotaPercent: string;
  args: string;
  env: string;
  cpuTimeLimitMs: string;
  start: boolean;
}

/** The memory each type starts with in the form. */
const MEMORY: Record<Kind, string> = { vm: '512M', container: '256M', sandbox: '64M' };

/** An optional whole number field: undefined when empty, NaN when not a whole number. */
function optionalInt(text: string): number | undefined {
  const t = text.trim();
  if (!t) return undefined;
  return /^\d+$/.test(t) ? Number(t) : Number.NaN;
}

/** A sandbox's module, read in the browser. */
interface ModuleFile {
  name: string;
  base64: string;
  sizeBytes: number;
}

/** The bytes of a file as base64 (in chunks: a spread of a large array would overflow the call stack). */
async function fileToBase64(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** The images a type starts from: container images for containers, VM images for VMs (none for sandboxes). */
function imagesOf(images: Image[] | null, type: Kind): Image[] {
  return (images ?? []).filter((i) => i.type === (type === 'container' ? 'container' : 'vm'));
}

/** The image the select holds for `type`: `current` if it is of that type, else Debian for VMs, busybox for containers. */
function pickImage(images: Image[] | null, type: Kind, current: string): string {
  const list = imagesOf(images, type);
  if (list.some((i) => i.name === current)) return current;
  const prefer = type === 'container' ? 'busybox-container' : 'debian';
  return (list.find((i) => i.name === prefer) ?? list[0])?.name ?? '';
}

/** Checks in the browser what can be checked before asking the daemon (which checks everything again). */
function localErrors(f: Form, module: ModuleFile | null): Partial<Record<CreateField, string>> {
  const e: Partial<Record<CreateField, string>> = {};
  if (!f.name.trim()) e.name = 'Give the instance a name.';
  else if (!/^[a-z0-9][a-z0-9-]{0,62}$/i.test(f.name.trim()))
    e.name = 'Use letters, digits and dashes (up to 63), starting with a letter or digit.';
  if (f.type !== 'sandbox' && !f.image) e.image = 'Choose an image.';
  if (f.type === 'sandbox' && !module) e.module = 'Choose a WebAssembly (.wasm) module.';
  if (f.type === 'vm') {
    const cpus = Number(f.cpus);
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) e.cpus = 'A whole number from 1 to 64.';
    if (!f.diskSize.trim()) e.diskSize = 'Enter a size such as 4G.';
  }
  if (!f.memory.trim()) e.memory = 'Enter a size such as 512M or 1G.';
  const whole = (k: 'pidsLimit' | 'cpuWeight' | 'cpuQuotaPercent' | 'cpuTimeLimitMs') => {
    if (Number.isNaN(optionalInt(f[k]))) e[k] = 'A whole number, or empty.';
  };
  if (f.type === 'container') {
    whole('pidsLimit');
    whole('cpuWeight');
    whole('cpuQuotaPercent');
  }
  if (f.type === 'sandbox') {
    whole('cpuTimeLimitMs');
    try {
      splitArgs(f.args);
    } catch (err) {
      e.args = messageOf(err);
    }
  }
  if (f.type !== 'vm') {
    try {
      parseEnv(f.env);
    } catch (err) {
      e.env = messageOf(err);
    }
  }
  return e;
}

/** The create request of the form: only the fields of its type. */
function requestOf(f: Form, module: ModuleFile | null): CreateInstance {
  const base = { name: f.name.trim(), memory: f.memory.trim(), start: f.start };
  const env = f.type === 'vm' ? {} : parseEnv(f.env);
  const withEnv = Object.keys(env).length > 0 ? { env } : {};
  if (f.type === 'sandbox') {
    const args = splitArgs(f.args);
    const cpuTime = optionalInt(f.cpuTimeLimitMs);
    return {
      ...base,
      type: 'sandbox',
      image: module?.name ?? 'module.wasm',
      module: module?.base64 ?? '',
      ...(args.length > 0 ? { args } : {}),
      ...withEnv,
      ...(cpuTime !== undefined ? { cpuTimeLimitMs: cpuTime } : {}),
    };
  }
  const network = f.network ? { network: f.network } : {};
  if (f.type === 'container') {
    const limits: { cpuWeight?: number; cpuQuotaPercent?: number } = {};
    const weight = optionalInt(f.cpuWeight);
    const quota = optionalInt(f.cpuQuotaPercent);
    if (weight !== undefined) limits.cpuWeight = weight;
    if (quota !== undefined) limits.cpuQuotaPercent = quota;
    const pids = optionalInt(f.pidsLimit);
    return {
      ...base,
      type: 'container',
      image: f.image,
      ...network,
      ...(Object.keys(limits).length > 0 ? { limits } : {}),
      ...(pids !== undefined ? { pidsLimit: pids } : {}),
      ...(f.hostname.trim() ? { hostname: f.hostname.trim() } : {}),
      // A command line, run by the image's shell (as `strata launch --command` does).
      ...(f.command.trim() ? { command: ['/bin/sh', '-c', f.command.trim()] } : {}),
      ...withEnv,
    };
  }
  return {
    ...base,
    image: f.image,
    engine: f.engine,
    cpus: Number(f.cpus),
    diskSize: f.diskSize.trim(),
    ...network,
  };
}

/**
 * The create-instance dialog: first the type (VM, container or sandbox), then the fields of that type. Messages
 * from the daemon are shown beside the field they name; others below the form. On success it opens the new
 * instance's page.
 */
export function CreateDialog({ server, onClose }: { server: ServerInfo | null; onClose: () => void }) {
  const [images, setImages] = useState<Image[] | null>(null);
  const [networks, setNetworks] = useState<Network[] | null>(null);
  const [module, setModule] = useState<ModuleFile | null>(null);
  const { form, setForm, errors, setErrors, general, setGeneral, busy, set, send } = useForm<Form, CreateField>({
    type: 'vm',
    name: '',
    image: '',
    engine: 'builtin',
    cpus: '1',
    memory: MEMORY.vm,
    diskSize: '4G',
    network: '',
    hostname: '',
    command: '',
    pidsLimit: '',
    cpuWeight: '',
    cpuQuotaPercent: '',
    args: '',
    env: '',
    cpuTimeLimitMs: '',
    start: true,
  });
  const ofType = imagesOf(images, form.type);

  useEffect(() => {
    api<Image[]>('GET', '/1.0/images').then(
      (list) => {
        setImages(list);
        setForm((f) => ({ ...f, image: pickImage(list, f.type, f.image) }));
      },
      (err) => setGeneral(`The images could not be listed: ${messageOf(err)}`),
    );
    api<Network[]>('GET', '/1.0/networks').then(setNetworks, () => setNetworks([]));
  }, []);

  const chooseType = (type: Kind) => {
    setForm((f) => ({
      ...f,
      type,
      image: pickImage(images, type, f.image),
      memory: f.memory === MEMORY[f.type] ? MEMORY[type] : f.memory,
    }));
    setErrors({});
    setGeneral(null);
  };
  const chooseModule = async (e: Event) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    setErrors((x) => ({ ...x, module: undefined }));
    if (!file) {
      setModule(null);
      return;
    }
    try {
      setModule({ name: file.name, base64: await fileToBase64(file), sizeBytes: file.size });
      if (!form.name.trim()) {
        const guess = file.name.replace(/\.wasm$/i, '').replace(/[^a-z0-9-]+/gi, '-');
        setForm((f) => ({ ...f, name: f.name || guess.replace(/^-+|-+$/g, '').toLowerCase() }));
      }
    } catch (err) {
      setModule(null);
      setErrors((x) => ({ ...x, module: `${file.name} could not be read: ${messageOf(err)}` }));
    }
  };

  const submit = (e: Event) => {
    e.preventDefault();
    const local = localErrors(form, module);
    void send(
      local,
      async () => {
        const body = requestOf(form, module);
        await api<Operation>('POST', '/1.0/instances', body);
        location.hash = `#/instances/${encodeURIComponent(body.name)}`;
        onClose();
      },
      fieldOfError,
      withoutField,
    );
  };

  const field = (k: CreateField, label: string, input: preact.JSX.Element, hint?: string) => (
    <Field id={`f-${k}`} label={label} error={errors[k]} hint={hint}>
      {input}
    </Field>
  );
  const attrs = (k: CreateField) => ({ name: k, ...fieldAttrs(`f-${k}`, errors[k]) });
  const engines = server?.engines ?? [{ name: 'builtin', available: true, reason: null }];
  const type = form.type;

  const imageSelect = field(
    'image',
    'Image',
    <select {...attrs('image')} value={form.image} onChange={set('image')}>
      {images === null ? <option value="">Loading…</option> : null}
      {images !== null && ofType.length === 0 ? (
        <option value="">{type === 'container' ? 'No container image yet' : 'No VM image yet'}</option>
      ) : null}
      {ofType.map((i) => (
        <option key={i.name} value={i.name}>
          {i.name} — {i.distribution} {i.release} ({i.arch})
        </option>
      ))}
    </select>,
    images !== null && ofType.length === 0 ? 'Pull one on the Images page' : undefined,
  );
  const networkSelect = field(
    'network',
    'Network',
    <select {...attrs('network')} value={form.network} onChange={set('network')}>
      <option value="">None</option>
      {networks?.map((n) => (
        <option key={n.name} value={n.name}>
          {n.name}
          {n.subnet ? ` — ${n.subnet}` : ''}
        </option>
      ))}
    </select>,
    networks?.length === 0 ? 'No networks yet: create one on the Networks page' : 'Optional',
  );
  const memory = field(
    'memory',
    type === 'sandbox' ? 'Memory cap' : type === 'container' ? 'Memory limit' : 'Memory',
    <input {...attrs('memory')} value={form.memory} onInput={set('memory')} />,
    type === 'sandbox' ? 'Linear memory of the module, e.g. 16M' : 'e.g. 512M, 2G',
  );
  const env = field(
    'env',
    'Environment',
    <textarea {...attrs('env')} rows={2} value={form.env} onInput={set('env')} spellcheck={false} />,
    'One NAME=value a line; optional',
  );

  return (
    <FormDialog
      titleId="create-title"
      title="New instance"
      wide
      general={general}
      busy={busy}
      submit="Create"
      busyLabel="Creating…"
      onSubmit={submit}
      onClose={onClose}
    >
      <fieldset class="segmented" data-field="type">
        <legend class="visually-hidden">Type</legend>
        {(['vm', 'container', 'sandbox'] as const).map((t) => (
          <label key={t} class={type === t ? 'checked' : undefined}>
            <input type="radio" name="type" value={t} checked={type === t} onChange={() => chooseType(t)} />
            {TYPE_LABEL[t]}
          </label>
        ))}
      </fieldset>
      <p class="muted small type-note">
        {type === 'vm'
          ? 'A RISC-V virtual machine that boots its own kernel from a VM image.'
          : type === 'container'
            ? "A system container run by runc on the host's kernel, from a container image."
            : 'A WebAssembly (WASI) module run in a worker, seeing only its own folder.'}
      </p>
      <div class="form-grid">
        {field(
          'name',
          'Name',
          <input {...attrs('name')} value={form.name} onInput={set('name')} autofocus autocomplete="off" />,
        )}
        {type === 'sandbox'
          ? field(
              'module',
              'Module',
              <input {...attrs('module')} type="file" accept=".wasm,application/wasm" onChange={chooseModule} />,
              module ? `${module.name}, ${module.sizeBytes} bytes` : 'A .wasm file with _start (WASI preview 1)',
            )
          : imageSelect}
        {type === 'vm'
          ? field(
              'engine',
              'Engine',
              <select {...attrs('engine')} value={form.engine} onChange={set('engine')}>
                {engines.map((en) => (
                  <option key={en.name} value={en.name} disabled={!en.available}>
                    {en.name}
                    {en.available ? '' : ` (unavailable: ${en.reason ?? 'unknown'})`}
                  </option>
                ))}
              </select>,
            )
          : null}
        {type === 'vm'
          ? field(
              'cpus',
              'vCPUs',
              <input {...attrs('cpus')} type="number" min={1} max={64} value={form.cpus} onInput={set('cpus')} />,
            )
          : null}
        {memory}
        {type === 'vm'
          ? field(
              'diskSize',
              'Disk size',
              <input {...attrs('diskSize')} value={form.diskSize} onInput={set('diskSize')} />,
              'e.g. 4G',
            )
          : null}
        {type === 'container' ? (
          <>
            {field(
              'hostname',
              'Hostname',
              <input {...attrs('hostname')} value={form.hostname} onInput={set('hostname')} autocomplete="off" />,
              'Default: the name',
            )}
            {field(
              'command',
              'Command',
              <input
                {...attrs('command')}
                value={form.command}
                onInput={set('command')}
                autocomplete="off"
                spellcheck={false}
                placeholder="sleep infinity"
              />,
              'Run by /bin/sh -c; default: a shell on the console',
            )}
            {field(
              'cpuWeight',
              'CPU weight',
              <input {...attrs('cpuWeight')} value={form.cpuWeight} onInput={set('cpuWeight')} inputMode="numeric" />,
              '1–10000; default 100',
            )}
            {field(
              'cpuQuotaPercent',
              'CPU quota (%)',
              <input
                {...attrs('cpuQuotaPercent')}
                value={form.cpuQuotaPercent}
                onInput={set('cpuQuotaPercent')}
                inputMode="numeric"
              />,
              '% of one CPU; empty: no cap',
            )}
            {field(
              'pidsLimit',
              'Pids limit',
              <input {...attrs('pidsLimit')} value={form.pidsLimit} onInput={set('pidsLimit')} inputMode="numeric" />,
              'Most processes and threads; empty: no limit',
            )}
            {networkSelect}
          </>
        ) : null}
        {type === 'sandbox' ? (
          <>
            {field(
              'cpuTimeLimitMs',
              'CPU time limit (ms)',
              <input
                {...attrs('cpuTimeLimitMs')}
                value={form.cpuTimeLimitMs}
                onInput={set('cpuTimeLimitMs')}
                inputMode="numeric"
                placeholder="10000"
              />,
              'CPU time of one run; default 10000',
            )}
            {field(
              'args',
              'Arguments',
              <input
                {...attrs('args')}
                value={form.args}
                onInput={set('args')}
                autocomplete="off"
                spellcheck={false}
              />,
              'argv[1..]; quote with \' or " to keep spaces',
            )}
          </>
        ) : null}
        {type === 'vm' ? networkSelect : null}
        {type !== 'vm' ? env : null}
      </div>
      <label class="check">
        <input type="checkbox" name="start" checked={form.start} onChange={set('start')} />
        Start it once created
      </label>
    </FormDialog>
  );
}
