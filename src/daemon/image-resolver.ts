import { basename, join } from 'node:path';
import type { ImageStore } from '../services/images/image-store.js';
import type { ImageBootFiles, ImageResolver } from '../services/instances/instance-manager.js';

/** Preferred firmware of an image: OpenSBI fw_dynamic (takes the kernel address from the boot info). */
const PREFERRED_FIRMWARE = 'fw_dynamic.bin';

/** Resolves image names to boot files through the image store (wiring between two services). */
export class StoreImageResolver implements ImageResolver {
  constructor(private readonly store: ImageStore) {}

  async resolve(name: string): Promise<ImageBootFiles | undefined> {
    const m = await this.store.get(name);
    if (!m) return undefined;
    const dir = this.store.imageDir(name);
    const kernel = m.files.find((f) => f.role === 'kernel');
    if (!kernel) return undefined;
    const initrd = m.files.find((f) => f.role === 'initrd');
    const firmwares = m.files.filter((f) => f.role === 'firmware');
    const firmware = firmwares.find((f) => basename(f.path) === PREFERRED_FIRMWARE) ?? firmwares[0];
    return {
      kernelPath: join(dir, kernel.path),
      initrdPath: initrd ? join(dir, initrd.path) : undefined,
      firmwarePath: firmware ? join(dir, firmware.path) : undefined,
      cmdline: m.kernelCmdline,
      arch: m.arch,
    };
  }
}
