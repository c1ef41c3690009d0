#!/usr/bin/env node
// The `strata` executable: runs the compiled composition root.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/daemon/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('strata: not built yet: run `npm run build` (npm ci does it) in the checkout\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
