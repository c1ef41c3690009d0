/** The fields of the create-instance form (of every type). */
export type CreateField =
  | 'type'
  | 'name'
  | 'image'
  | 'engine'
  | 'cpus'
  | 'memory'
  | 'diskSize'
  | 'network'
  | 'hostname'
  | 'command'
  | 'pidsLimit'
  | 'cpuWeight'
  | 'cpuQuotaPercent'
  | 'module'
  | 'args'
  | 'env'
  | 'cpuTimeLimitMs';

const FIELDS: readonly CreateField[] = [
  'type',
  'name',
  'image',
  'engine',
  'cpus',
  'memory',
  'diskSize',
  'network',
  'hostname',
  'command',
  'pidsLimit',
  'cpuWeight',
  'cpuQuotaPercent',
  'module',
  'args',
  'env',
  'cpuTimeLimitMs',
];

/**
 * The field a daemon validation message names (`invalid body.cpus: …`, `invalid subnet: …`,
 * `invalid limits.cpuWeight: …`: the last part of a dotted path), if one of `fields`.
 */
export function namedField<F extends string>(message: string, fields: readonly F[]): F | undefined {
  const m = /^invalid (?:body\.)?([A-Za-z.]+)/i.exec(message);
  const named = m?.[1]?.split('.').filter(Boolean).pop() as F | undefined;
  return named && fields.includes(named) ? named : undefined;
}

/** A validation message without its `invalid <field>: ` prefix, as a sentence. */
export function withoutField(message: string): string {
  const rest = message.replace(/^invalid (body\.)?[\w.]+: /i, '');
  return rest.charAt(0).toUpperCase() + rest.slice(1);
}

/**
 * The form field an API error is about, so that the message is shown beside it. The daemon names the field in
 * validation messages (`invalid body.cpus: …` from the schema, `invalid hostname: …` from the service); a missing
 * image is named by its message.
 */
export function fieldOfError(message: string): CreateField | undefined {
  const named = namedField(message, FIELDS);
  if (named) return named;
  if (/\bnetwork\b/i.test(message)) return 'network';
  if (/\bimage\b/i.test(message)) return 'image';
  if (/\binstance '[^']*' already exists|\binstance named\b/i.test(message)) return 'name';
  return undefined;
}
