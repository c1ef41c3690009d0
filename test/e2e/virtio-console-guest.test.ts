import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadHartModule } from '../../src/daemon/assets.js';
import { startLocalVm } from '../../src/hypervisor/local-vm.js';
import type { CharBackend, CharInputListener } from '../../src/machine/devices/ports.js';
import { ensureDebianImageFiles } from '../helpers/debian-image.js';

// The Debian guest on Strata's engine with a virtio console beside its serial one: what the guest writes to
// /dev/hvc0 reaches the host backend, and what the host sends arrives on /dev/hvc0. Driven in-process through the
// serial console.

/** Resolves when `get()` matches `re`, polling; rejects with `tail()` after `timeoutMs`. */
async function until(get: () => string, re: RegExp, timeoutMs: number, tail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!re.test(get())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; serial tail:\n${tail().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the guest talks to the host through a virtio console (/dev/hvc0) both ways', {
  timeout: 15 * 60_000,
}, async () => {
  const img = await ensureDebianImageFiles();
  const manifest = JSON.parse(readFileSync(`${img.dir}/manifest.json`, 'utf8')) as { kernelCmdline: string };
  let serial = '';
  let hvcOut = '';
  let hvcInput: CharInputListener | null = null;
  const hvcBackend: CharBackend = {
    write: (bytes) => {
      hvcOut += Buffer.from(bytes).toString('latin1');
    },
    setInputListener: (l) => {
      hvcInput = l;
    },
  };
  const abort = new AbortController();
  const vm = startLocalVm(
    {
      memoryBytes: 512 * 1024 * 1024,
      kernel: { name: img.kernel, bytes: new Uint8Array(readFileSync(img.kernel)) },
      initrd: { name: img.initrd, bytes: new Uint8Array(readFileSync(img.initrd)) },
      firmware: { name: img.fwDynamic, bytes: new Uint8Array(readFileSync(img.fwDynamic)) },
      cmdline: manifest.kernelCmdline,
      htif: false,
      entropy: true,
      virtioConsole: hvcBackend,
    },
    {
      hartModule: await loadHartModule(),
      signal: abort.signal,
      onConsoleOutput: (bytes) => {
        serial += Buffer.from(bytes).toString('latin1');
      },
    },
  );
  const type = (line: string) => vm.sendInput(new TextEncoder().encode(`${line}\n`));
  const tail = () => `${serial}\n--- hvc ---\n${hvcOut}`;
  try {
    await until(() => serial, /strata: debian image ready[\s\S]*:~# /, 300_000, tail);
    // Guest to host.
    type('stty -F /dev/hvc0 raw -echo; echo "to-host-$((6*7))" > /dev/hvc0');
    await until(() => hvcOut, /to-host-42/, 60_000, tail);
    // Host to guest: the reader is started first; the host sends until the guest has read a line.
    type('read -r line < /dev/hvc0; echo "from-host:$line"');
    const deadline = Date.now() + 60_000;
    while (!/from-host:ping-7/.test(serial)) {
      if (Date.now() > deadline)
        throw new Error(`the guest never read host input; serial tail:\n${tail().slice(-2000)}`);
      (hvcInput as CharInputListener | null)?.(new TextEncoder().encode('ping-7\n'));
      await new Promise((r) => setTimeout(r, 1000));
    }
    type('poweroff -f');
    const exit = await vm.done;
    assert.deepEqual(exit, { kind: 'poweroff' });
    assert.equal(hvcInput, null, 'the device let go of the backend');
  } finally {
    abort.abort();
    await vm.done.catch(() => {
      // The run already failed; the assertion above tells why.
    });
  }
});
