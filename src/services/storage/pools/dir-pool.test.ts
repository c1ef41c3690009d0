import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirPool } from './dir-pool.js';
import { poolDriverSuite } from './pool-driver.suite.js';
import { VolumeLocks } from './volume-locks.js';

poolDriverSuite('directory pool', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-dirpool-'));
  const location = join(dir, 'pool');
  return {
    pool: new DirPool('test', location, new VolumeLocks(join(dir, 'locks'))),
    scratch: dir,
    leftovers: async () => {
      const inPool = readdirSync(location).filter((n) => n.startsWith('.'));
      const inScratch = readdirSync(dir).filter((n) => n.startsWith('.'));
      const inLocks = readdirSync(join(dir, 'locks')).filter((n) => n.startsWith('.'));
      return [...inPool, ...inScratch, ...inLocks];
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
