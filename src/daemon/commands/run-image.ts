import { basename, join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import type { NamedBytes } from '../../hypervisor/local-vm.js';
import { checkImageName, defaultStrataHome, ImageStore } from '../../services/images/image-store.js';
import { readInput } from '../read-input.js';

/** The files and command line to boot an image from the store. */
export interface ImageBoot {
  kernel: NamedBytes;
  initrd: NamedBytes | undefined;
  firmware: NamedBytes | undefined;
  cmdline: string;
}

/** Preferred firmware of an image: OpenSBI fw_dynamic (takes the kernel address from the boot info). */
const PREFERRED_FIRMWARE = 'fw_dynamic.bin';

/**
 * Reads the boot files of image `name` from the store under `$STRATA_HOME`. NOT_FOUND names the image and says how
 * to get it; files are read by their manifest paths.
 */
export async function resolveImageBoot(name: string, env: NodeJS.ProcessEnv): Promise<ImageBoot> {
  checkImageName(name);
  const store = new ImageStore(defaultStrataHome(env));
  const manifest = await store.get(name);
  if (!manifest) {
    throw new StrataError('NOT_FOUND', `image '${name}' is not in the image store: run \`strata image pull ${name}\``);
  }
  const dir = store.imageDir(name);
  const kernel = manifest.files.find((f) => f.role === 'kernel');
  if (!kernel) throw new StrataError('INVALID_ARGUMENT', `image '${name}' has no kernel in its manifest`);
  const initrd = manifest.files.find((f) => f.role === 'initrd');
  const firmwares = manifest.files.filter((f) => f.role === 'firmware');
  const firmware = firmwares.find((f) => basename(f.path) === PREFERRED_FIRMWARE) ?? firmwares[0];
  return {
    kernel: await readInput(join(dir, kernel.path), 'kernel'),
    initrd: initrd ? await readInput(join(dir, initrd.path), 'initrd') : undefined,
    firmware: firmware ? await readInput(join(dir, firmware.path), 'firmware') : undefined,
    cmdline: manifest.kernelCmdline,
  };
}
