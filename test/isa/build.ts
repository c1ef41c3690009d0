// Builds Strata's bare-metal ISA test programs: every test/isa/*.S becomes build/isa/<name>.elf,
// linked at 0x80000000 by test/isa/link.ld, reporting through the HTIF `tohost` symbol.
// Incremental: a program is rebuilt only when its .elf is older than the source, the shared
// headers or the linker script. Run directly (`node --import tsx test/isa/build.ts`) or import
// buildIsaPrograms() from a test.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the program sources live (this folder: test/isa). */
export const ISA_SRC_DIR = dirname(fileURLToPath(import.meta.url));
/** The repository root. */
export const REPO_ROOT = join(ISA_SRC_DIR, '..', '..');
/** Where the linked programs go: build/isa. */
export const ISA_OUT_DIR = join(REPO_ROOT, 'build', 'isa');
/** The cross compiler (Debian's gcc-riscv64-linux-gnu unless STRATA_RISCV_GCC names another). */
export const RISCV_GCC = process.env.STRATA_RISCV_GCC ?? 'riscv64-linux-gnu-gcc';

/** Compiler and linker flags of every program: RV64GC, bare metal, statically linked at a fixed address. */
export const GCC_FLAGS = [
  '-march=rv64gc',
  '-mabi=lp64d',
  '-nostdlib',
  '-static',
  '-fno-pic',
  '-no-pie',
  '-Wl,--build-id=none',
  '-Wl,--no-warn-rwx-segments',
];

/** One built (or up-to-date) test program. */
export interface IsaProgram {
  /** Program name: the source file name without .S. */
  name: string;
  /** Absolute path of the assembly source. */
  source: string;
  /** Absolute path of the linked ELF. */
  elf: string;
  /** True when this call (re)built it, false when it was up to date. */
  rebuilt: boolean;
}

/** A program could not be built: the compiler is missing or rejected the source (the message says which). */
export class IsaBuildError extends Error {}

/** Every test program source (test/isa/*.S), sorted by name. */
export function listIsaSources(): string[] {
  return readdirSync(ISA_SRC_DIR)
    .filter((f) => f.endsWith('.S'))
    .sort()
    .map((f) => join(ISA_SRC_DIR, f));
}

function mtime(path: string): number {
  return statSync(path).mtimeMs;
}

/** Newest modification time among the inputs shared by every program. */
function sharedInputsMtime(): number {
  let newest = mtime(join(ISA_SRC_DIR, 'link.ld'));
  const inc = join(ISA_SRC_DIR, 'include');
  if (existsSync(inc)) {
    for (const f of readdirSync(inc)) newest = Math.max(newest, mtime(join(inc, f)));
  }
  return newest;
}

function checkCompiler(): void {
  const r = spawnSync(RISCV_GCC, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new IsaBuildError(
      `ISA tests need the RISC-V cross compiler '${RISCV_GCC}', which was not found or does not run. ` +
        'On Debian/Ubuntu install it with: sudo apt-get install gcc-riscv64-linux-gnu',
    );
  }
}

/**
 * Builds the ISA test programs (all, or only the named ones) into build/isa/.
 * Throws IsaBuildError with the compiler's message when a program does not build.
 */
export function buildIsaPrograms(only?: readonly string[]): IsaProgram[] {
  let sources = listIsaSources();
  if (only && only.length > 0) {
    const wanted = new Set(only);
    sources = sources.filter((s) => wanted.has(programName(s)));
    const found = new Set(sources.map(programName));
    const missing = only.filter((n) => !found.has(n));
    if (missing.length > 0) throw new IsaBuildError(`no such ISA test program: ${missing.join(', ')}`);
  }
  mkdirSync(ISA_OUT_DIR, { recursive: true });
  const shared = sharedInputsMtime();
  const out: IsaProgram[] = [];
  let compilerChecked = false;
  for (const source of sources) {
    const name = programName(source);
    const elf = join(ISA_OUT_DIR, `${name}.elf`);
    const tmp = `${elf}.${process.pid}.tmp`;
    const upToDate = existsSync(elf) && mtime(elf) > Math.max(mtime(source), shared);
    if (!upToDate) {
      if (!compilerChecked) {
        checkCompiler();
        compilerChecked = true;
      }
      const args = [
        ...GCC_FLAGS,
        '-T',
        join(ISA_SRC_DIR, 'link.ld'),
        '-I',
        join(ISA_SRC_DIR, 'include'),
        source,
        '-o',
        tmp,
      ];
      const r = spawnSync(RISCV_GCC, args, { encoding: 'utf8' });
      if (r.error || r.status !== 0) {
        rmSync(tmp, { force: true });
        throw new IsaBuildError(
          `building ${relative(REPO_ROOT, source)} failed:\n${r.error?.message ?? ''}${r.stderr ?? ''}${r.stdout ?? ''}`,
        );
      }
      // Link to a private name, then rename: test files that build concurrently never see a partial ELF.
      renameSync(tmp, elf);
    }
    out.push({ name, source, elf, rebuilt: !upToDate });
  }
  return out;
}

function programName(source: string): string {
  return basename(source, '.S');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const built = buildIsaPrograms(process.argv.slice(2));
    for (const p of built) {
      process.stdout.write(`${p.rebuilt ? 'built   ' : 'current '} ${relative(REPO_ROOT, p.elf)}\n`);
    }
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
