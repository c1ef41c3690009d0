import { basename, join } from 'node:path';
import { StrataError } from '../../base/errors.js';
import type { NamedBytes } from '../../hypervisor/local-vm.js';
import { PULLABLE_IMAGES } from '../../services/images/debian-builder.js';
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

/** The hint for an image that is not in the store: how to get it, or which images can be pulled at all. */
export function missingImageMessage(name: string): string {
  if (PULLABLE_IMAGES.includes(name))
    return `image '${name}' is not in the image store: run \`strata image pull ${name}\``;
  return `image '${name}' is not in the image store; \`strata image pull\` can fetch only: ${PULLABLE_IMAGES.join(', ')}`;
}

/**
 * Reads the boot files of image `name` from the store under `$STRATA_HOME`. NOT_FOUND names the image and says how
 * to get it; files are read by their manifest paths, all from the one folder the image name resolved to (a pull
 * replacing the image meanwhile cannot mix two images).
 */
export async function resolveImageBoot(name: string, env: NodeJS.ProcessEnv): Promise<ImageBoot> {
  checkImageName(name);
  const store = new ImageStore(defaultStrataHome(env));
  const image = await store.resolve(name);
  if (!image) throw new StrataError('NOT_FOUND', missingImageMessage(name));
  const { manifest, dir } = image;
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
