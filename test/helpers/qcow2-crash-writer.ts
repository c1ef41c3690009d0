// Child process of the qcow2 crash test: runs a seeded write workload on an image and prints "acked N" after
// each completed flush (N = ops completed before it). The parent kills it with SIGKILL at a random moment.
import { openDisk } from '../../src/services/storage/open-disk.js';
import { crashOps, writeData } from './crash-workload.js';

const [path, seedText, sizeText, countText] = process.argv.slice(2);
const size = Number(sizeText);
const ops = crashOps(Number(seedText), size, Number(countText));
const disk = await openDisk(path!, { format: 'qcow2' });
process.stdout.write('open\n');
for (const [i, op] of ops.entries()) {
  if (op.kind === 'flush') {
    await disk.flush();
    process.stdout.write(`acked ${i + 1}\n`);
  } else if (op.kind === 'write') {
    await disk.write(op.offset, writeData(i, op.offset, op.length));
  } else {
    await disk.discard(op.offset, op.length);
  }
}
await disk.flush();
process.stdout.write(`acked ${ops.length}\n`);
await disk.close();
process.stdout.write('done\n');
