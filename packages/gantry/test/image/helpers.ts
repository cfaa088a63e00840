// Shared bits for the image tests.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlobCache } from '../../src/image/cache.js';
import { localBlob, RegistryClients } from '../../src/image/image.js';
import type { Image } from '../../src/image/image.js';

export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
export const userServiceDir = join(repoRoot, 'services/user-service');
export const helloGoDir = join(repoRoot, 'services/hello-go');

/** A temporary directory removed when the test ends. */
export function tempDir(t: { after(fn: () => void): void }, prefix = 'gantry-image-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A blob cache shared by test runs (content-addressed and written atomically,
 * so concurrent test files can share it): the host node base layer is
 * compressed once, not in every test.
 */
export function sharedCache(): BlobCache {
  return new BlobCache(join(tmpdir(), 'gantry-test-cache'));
}

/** Builds user-service's dist/ when it is missing (npx tsc -b). */
export function ensureUserServiceBuilt(): void {
  if (existsSync(join(userServiceDir, 'dist', 'main.js'))) return;
  execFileSync('npx', ['tsc', '-b', 'services/user-service'], { cwd: repoRoot, stdio: 'inherit' });
}

/** Unpacks every layer of an image, bottom first, into `dir` with the system tar. */
export async function extractImage(
  image: Image,
  dir: string,
  cache = sharedCache(),
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const clients = new RegistryClients();
  for (const l of image.layers) {
    const blob = await localBlob(l, clients, cache);
    const r = spawnSync('tar', ['-xzf', blob, '-C', dir, '--numeric-owner'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tar -xzf ${blob}: ${r.stderr}`);
  }
}
