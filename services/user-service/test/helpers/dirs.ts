// Temporary config/secret directories, plain or in Kubernetes' atomic-swap layout:
//   dir/..2026_01_01_v1/KEY   the data
//   dir/..data -> ..2026_01_01_v1
//   dir/KEY -> ..data/KEY
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix = 'user-service-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeKeys(dir: string, values: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [k, v] of Object.entries(values)) writeFileSync(join(dir, k), `${v}\n`);
}

export class KubeVolume {
  readonly dir: string;
  private generation = 0;
  private current: string | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Publishes a new set of keys the way the kubelet does: new dir, then swap ..data. */
  publish(values: Record<string, string>): void {
    const gen = `..2026_01_01_00_00_0${++this.generation}.${process.pid}`;
    writeKeys(join(this.dir, gen), values);
    symlinkSync(gen, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    for (const k of Object.keys(values)) {
      try {
        symlinkSync(join('..data', k), join(this.dir, k));
      } catch {
        // the key's symlink exists from an earlier generation
      }
    }
    if (this.current !== undefined) rmSync(join(this.dir, this.current), { recursive: true });
    this.current = gen;
  }
}
