import { useEffect, useRef, useState } from 'preact/hooks';
import type { CreateInstance, Image, Network, Operation, ServerInfo } from '../api/schema/index.js';
import { api, messageOf } from './api.js';
import { type CreateField, fieldOfError } from './field-errors.js';
import { Modal } from './ui.js';

/** What the form holds (text, as typed). */
interface Form {
  name: string;
  image: string;
  engine: string;
  cpus: string;
  memory: string;
  diskSize: string;
  /** A network name, or '' for none. */
  network: string;
  start: boolean;
}

/** Checks in the browser what can be checked before asking the daemon (which checks everything again). */
function localErrors(f: Form): Partial<Record<CreateField, string>> {
  const e: Partial<Record<CreateField, string>> = {};
  if (!f.name.trim()) e.name = 'Give the instance a name.';
  else if (!/^[a-z0-9][a-z0-9-]{0,62}$/i.test(f.name.trim()))
    e.name = 'Use letters, digits and dashes (up to 63), starting with a letter or digit.';
  if (!f.image) e.image = 'Choose an image.';
  const cpus = Number(f.cpus);
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) e.cpus = 'A whole number from 1 to 64.';
  if (!f.memory.trim()) e.memory = 'Enter a size such as 512M or 1G.';
  if (!f.diskSize.trim()) e.diskSize = 'Enter a size such as 4G.';
  return e;
}

/**
 * The create-instance dialog: image, name, engine, vCPUs, memory and disk size. Messages from the daemon are
 * shown beside the field they name; others below the form. On success it opens the new instance's page.
 */
export function CreateDialog({ server, onClose }: { server: ServerInfo | null; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [images, setImages] = useState<Image[] | null>(null);
  const [networks, setNetworks] = useState<Network[] | null>(null);
  const [form, setForm] = useState<Form>({
    name: '',
    image: '',
    engine: 'builtin',
    cpus: '1',
    memory: '512M',
    diskSize: '4G',
    network: '',
    start: true,
  });
  const [errors, setErrors] = useState<Partial<Record<CreateField, string>>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    api<Image[]>('GET', '/1.0/images').then(
      (list) => {
        setImages(list);
        setForm((f) => ({ ...f, image: f.image || (list.find((i) => i.name === 'debian') ?? list[0])?.name || '' }));
      },
      (err) => setGeneral(`The images could not be listed: ${messageOf(err)}`),
    );
    api<Network[]>('GET', '/1.0/networks').then(setNetworks, () => setNetworks([]));
  }, []);

  const set = (k: keyof Form) => (e: Event) => {
    const t = e.target as HTMLInputElement;
    setForm({ ...form, [k]: t.type === 'checkbox' ? t.checked : t.value });
    if (k in errors) setErrors({ ...errors, [k]: undefined });
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setGeneral(null);
    const local = localErrors(form);
    setErrors(local);
    if (Object.keys(local).length > 0) return;
    setBusy(true);
    const body: CreateInstance = {
      name: form.name.trim(),
      image: form.image,
      engine: form.engine,
      cpus: Number(form.cpus),
      memory: form.memory.trim(),
      diskSize: form.diskSize.trim(),
      start: form.start,
      ...(form.network ? { network: form.network } : {}),
    };
    try {
      await api<Operation>('POST', '/1.0/instances', body);
      location.hash = `#/instances/${encodeURIComponent(body.name)}`;
      onClose();
    } catch (err) {
      const msg = messageOf(err);
      const field = fieldOfError(msg);
      if (field) setErrors({ [field]: messageOf(msg.replace(/^invalid (body\.)?\w+: /i, '')) });
      else setGeneral(msg);
    } finally {
      setBusy(false);
    }
  };

  const field = (k: CreateField, label: string, input: preact.JSX.Element, hint?: string) => (
    <div class={`field${errors[k] ? ' field-invalid' : ''}`}>
      <label for={`f-${k}`}>{label}</label>
      {input}
      {errors[k] ? (
        <span class="field-error" id={`err-${k}`} role="alert">
          {errors[k]}
        </span>
      ) : hint ? (
        <span class="field-hint">{hint}</span>
      ) : null}
    </div>
  );
  const attrs = (k: CreateField) => ({
    name: k,
    id: `f-${k}`,
    'aria-invalid': errors[k] ? ('true' as const) : ('false' as const),
    'aria-describedby': errors[k] ? `err-${k}` : undefined,
  });
  const engines = server?.engines ?? [{ name: 'builtin', available: true, reason: null }];

  return (
    <Modal dialogRef={ref} titleId="create-title" wide onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <h2 id="create-title">New instance</h2>
        <div class="form-grid">
          {field(
            'name',
            'Name',
            <input {...attrs('name')} value={form.name} onInput={set('name')} autofocus autocomplete="off" />,
          )}
          {field(
            'image',
            'Image',
            <select {...attrs('image')} value={form.image} onChange={set('image')}>
              {images === null ? <option value="">Loading…</option> : null}
              {images?.length === 0 ? <option value="">No image: run strata image pull debian</option> : null}
              {images?.map((i) => (
                <option key={i.name} value={i.name}>
                  {i.name} — {i.distribution} {i.release} ({i.arch})
                </option>
              ))}
            </select>,
          )}
          {field(
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
          )}
          {field(
            'cpus',
            'vCPUs',
            <input {...attrs('cpus')} type="number" min={1} max={64} value={form.cpus} onInput={set('cpus')} />,
          )}
          {field(
            'memory',
            'Memory',
            <input {...attrs('memory')} value={form.memory} onInput={set('memory')} />,
            'e.g. 512M, 2G',
          )}
          {field(
            'diskSize',
            'Disk size',
            <input {...attrs('diskSize')} value={form.diskSize} onInput={set('diskSize')} />,
            'e.g. 4G',
          )}
          {field(
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
          )}
        </div>
        <label class="check">
          <input type="checkbox" name="start" checked={form.start} onChange={set('start')} />
          Start it once created
        </label>
        {general ? (
          <p class="error-note" role="alert">
            {general}
          </p>
        ) : null}
        <div class="dialog-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
