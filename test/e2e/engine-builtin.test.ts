import { join } from 'node:path';
import { BuiltinEngine } from '../../src/services/instances/builtin-engine.js';
import { engineSuite } from '../../src/services/instances/engine.suite.js';
import { ensureDebianImageFiles } from '../helpers/debian-image.js';
import { REPO_ROOT } from '../helpers/strata-cli.js';

engineSuite('builtin', {
  engine: () => new BuiltinEngine({ strataCommand: [process.execPath, join(REPO_ROOT, 'bin', 'strata.js')] }),
  image: async () => {
    const img = await ensureDebianImageFiles();
    return { kernel: img.kernel, initrd: img.initrd, firmware: img.fwDynamic, cmdline: 'console=ttyS0' };
  },
  bootTimeoutMs: 240_000,
});
