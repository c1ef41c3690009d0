/** The fields of the create-instance form. */
export type CreateField = 'name' | 'image' | 'engine' | 'cpus' | 'memory' | 'diskSize';

const FIELDS: readonly CreateField[] = ['name', 'image', 'engine', 'cpus', 'memory', 'diskSize'];

/**
 * The form field an API error is about, so that the message is shown beside it. The daemon names the field in
 * validation messages (`invalid body.cpus: …` from the schema, `invalid memory: …` from the service); a missing
 * image is named by its message.
 */
export function fieldOfError(message: string): CreateField | undefined {
  const m = /^invalid (?:body\.)?([A-Za-z]+)/i.exec(message);
  const named = m?.[1] as CreateField | undefined;
  if (named && FIELDS.includes(named)) return named;
  if (/\bimage\b/i.test(message)) return 'image';
  if (/\binstance '[^']*' already exists|\binstance named\b/i.test(message)) return 'name';
  return undefined;
}
