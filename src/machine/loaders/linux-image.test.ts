import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fakeLinuxImage as fakeImage } from '../testing/fake-linux-image.js';
import { isRiscvLinuxImage, parseLinuxImage } from './linux-image.js';

describe('RISC-V Linux Image header', () => {
  it('reads text_offset, image_size and version', () => {
    const h = parseLinuxImage(fakeImage(), 'Image');
    assert.deepEqual(h, { textOffset: 0x20_0000, imageSizeBytes: 0x10_0000, versionMajor: 0, versionMinor: 2 });
  });

  it('accepts either magic, and a zero image_size means the file length', () => {
    const onlyOld = fakeImage({ imageSize: 0 });
    onlyOld.fill(0, 0x38, 0x3c);
    assert.ok(isRiscvLinuxImage(onlyOld));
    assert.equal(parseLinuxImage(onlyOld, 'old').imageSizeBytes, 4096);
  });

  it('rejects files that are not a RISC-V Image, naming them', () => {
    const noMagic = fakeImage();
    noMagic.fill(0, 0x30, 0x40);
    assert.throws(() => parseLinuxImage(noMagic, 'vmlinux.bin'), {
      code: 'INVALID_ARGUMENT',
      message: /'vmlinux\.bin' is not a RISC-V Linux Image/,
    });
    assert.throws(() => parseLinuxImage(new Uint8Array(10), 'tiny'), { message: /'tiny' is 10 bytes, too short/ });
    assert.throws(() => parseLinuxImage(new Uint8Array([0x1f, 0x8b, 8, 0]), 'vmlinuz'), { message: /gzip/ });
    assert.throws(() => parseLinuxImage(fakeImage({ flags: 1 }), 'be'), { message: /big-endian/ });
  });
});
