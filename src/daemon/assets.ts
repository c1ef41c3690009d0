import { readFile } from 'node:fs/promises';
import { StrataError } from '../base/errors.js';

/** The compiled hart, built by `npm run build` from src/machine/cpu/assembly. */
export const HART_WASM_URL = new URL('../../build/hart.wasm', import.meta.url);

/** Loads and compiles the hart's WebAssembly module; a clear error when the checkout was not built. */
export async function loadHartModule(): Promise<WebAssembly.Module> {
  let bytes: Buffer;
  try {
    bytes = await readFile(HART_WASM_URL);
  } catch {
    throw new StrataError(
      'UNAVAILABLE',
      "the hart's WebAssembly module is missing: run `npm run build` in the checkout",
    );
  }
  return WebAssembly.compile(new Uint8Array(bytes));
}
