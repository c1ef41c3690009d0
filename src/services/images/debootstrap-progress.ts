/**
 * Progress of a Debian container image build, read from debootstrap's `I:` lines. debootstrap names one package per
 * line while it works (`Retrieving`/`Validating <pkg> <version>`, `Extracting <pkg>...`, `Unpacking <pkg>...`,
 * `Configuring <pkg>...`) and announces each stage (`Installing core packages...`, `Unpacking required
 * packages...`, `Configuring the base system...`). The package list is only written down once every package is
 * downloaded (the target's `debootstrap/required` and `debootstrap/base`), so the download counts packages without
 * a total and every later stage has one: the count of the packages that stage handles.
 */

import type { ProgressReporter } from '../../base/progress.js';

/** How many packages debootstrap installs in its two passes: `required` first (extracted, then dpkg), then `base`. */
export interface DebootstrapPackageCounts {
  required: number;
  base: number;
}

type Stage =
  | 'start'
  | 'index'
  | 'retrieve'
  | 'extract'
  | 'unpack-req'
  | 'conf-req'
  | 'unpack-base'
  | 'conf-base'
  | 'end';

/** Index files debootstrap fetches before any package (`Retrieving InRelease`, `Validating Packages`). */
const INDEX_FILES = new Set(['InRelease', 'Release', 'Release.gpg', 'Packages']);

/**
 * Turns debootstrap's `I:` lines into phases of `progress`, counted in packages (`steps`). `counts` is asked once,
 * when the install begins (debootstrap has written its package lists by then); undefined leaves those phases
 * without a total.
 */
export class DebootstrapProgress {
  private stage: Stage = 'start';
  private done = 0;
  private total = 0;
  private readonly retrieved = new Set<string>();
  private counts: DebootstrapPackageCounts | undefined;

  constructor(
    private readonly progress: ProgressReporter,
    private readonly readCounts: () => DebootstrapPackageCounts | undefined,
  ) {}

  /** One line of debootstrap's output (lines that are not `I:` lines are ignored). */
  line(raw: string): void {
    const m = /^I: (.*)$/.exec(raw.trim());
    if (!m?.[1]) return;
    const text = m[1].trim();
    const fetch = /^(?:Retrieving|Validating) (\S+)/.exec(text);
    if (fetch?.[1]) {
      if (INDEX_FILES.has(fetch[1])) {
        if (this.stage === 'start') this.enter('index', 'fetching the Debian package index', 0);
        return;
      }
      if (this.stage !== 'retrieve') this.enter('retrieve', 'retrieving packages', 0);
      this.retrieved.add(fetch[1]);
      this.step(this.retrieved.size);
      return;
    }
    if (/^Installing core packages/.test(text)) {
      if (this.stage !== 'extract') this.enterExtract();
      return;
    }
    if (/^Extracting \S+/.test(text)) {
      if (this.stage !== 'extract') this.enterExtract();
      this.step(this.done + 1);
      return;
    }
    if (/^Unpacking required packages/.test(text)) {
      this.enter('unpack-req', 'unpacking required packages', this.requiredTotal());
      return;
    }
    if (/^Configuring required packages/.test(text)) {
      this.enter('conf-req', 'configuring required packages', this.requiredTotal());
      return;
    }
    if (/^Unpacking the base system/.test(text)) {
      this.enter('unpack-base', 'unpacking the base system', this.baseTotal());
      return;
    }
    if (/^Configuring the base system/.test(text)) {
      this.enter('conf-base', 'configuring the base system', this.baseTotal());
      return;
    }
    if (/^(?:Unpacking|Configuring) \S+\.\.\.$/.test(text)) {
      this.step(this.done + 1);
      return;
    }
    if (/^Base system installed successfully/.test(text)) {
      this.stage = 'end';
      this.progress.done();
    }
  }

  private enterExtract(): void {
    this.enter('extract', 'extracting required packages', this.requiredTotal());
  }

  private requiredTotal(): number {
    this.counts ??= this.readCounts();
    return this.counts?.required ?? 0;
  }

  private baseTotal(): number {
    this.counts ??= this.readCounts();
    return this.counts?.base ?? 0;
  }

  private enter(stage: Stage, label: string, total: number): void {
    if (this.stage !== 'start') this.progress.done();
    this.stage = stage;
    this.done = 0;
    this.total = total;
    this.progress.phase(label, total, 'steps');
  }

  /** Counts one more step; never past a known total (debootstrap configures libc-bin twice, say). */
  private step(n: number): void {
    this.done = n;
    this.progress.update(this.total > 0 ? Math.min(n, this.total) : n);
  }
}

/** The package counts in debootstrap's lists (`debootstrap/required`, `debootstrap/base`: names split by blanks). */
export function countDebootstrapPackages(required: string, base: string): DebootstrapPackageCounts {
  const count = (s: string) => s.split(/\s+/).filter((w) => w !== '').length;
  return { required: count(required), base: count(base) };
}
