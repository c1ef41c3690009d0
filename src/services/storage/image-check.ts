import { dirname, isAbsolute, join } from 'node:path';
import { openImageChain } from './backing-chain.js';
import { type CheckResult, checkImage, rebuildRefcounts } from './qcow2/check.js';
import { Qcow2Image } from './qcow2/qcow2-image.js';

/** Result of {@link checkQcow2File}. */
export interface FileCheckResult extends CheckResult {
  /** True when a repair rebuilt the refcounts. */
  repaired: boolean;
}

/**
 * Checks a qcow2 image like `qemu-img check`: refcounts against references and COPIED flags. With `repair`, an
 * image with leaks or refcount errors gets its refcounts rebuilt (a dirty image is rebuilt on open anyway) and
 * the result describes the image after the repair.
 */
export async function checkQcow2File(path: string, opts: { repair?: boolean } = {}): Promise<FileCheckResult> {
  const repair = opts.repair ?? false;
  const img = await Qcow2Image.open(path, {
    readOnly: !repair,
    openBacking: (name, fmt) =>
      openImageChain(isAbsolute(name) ? name : join(dirname(path), name), {
        readOnly: true,
        ...(fmt === 'raw' || fmt === 'qcow2' ? { format: fmt } : {}),
      }),
  });
  let repaired = false;
  try {
    let result = await img.exclusive(() => checkImage(img));
    if (repair && (result.leaks > 0 || result.corruptions > 0)) {
      await img.exclusive(async () => {
        await img.markDirty();
        await rebuildRefcounts(img);
      });
      repaired = true;
      result = await img.exclusive(() => checkImage(img));
    }
    return { ...result, repaired };
  } finally {
    await img.close();
  }
}
