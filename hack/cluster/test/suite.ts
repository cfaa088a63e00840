// One test file's share of the local cluster: a namespace of its own (deleted when the file
// ends, without waiting), a work directory, and the echo fixture's image pushed once. The
// before/after hooks every cluster test file wrote for itself.
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushEchoImage, requireCluster, run } from './cluster-env.js';
import type { ClusterEnv } from './cluster-env.js';

export interface ClusterSuite {
  /** Why the file's tests are skipped (no cluster), or false. */
  readonly skip: string | false;
  /** `<prefix>-<time>`: the file's namespace (created by what the tests deploy). */
  readonly ns: string;
  /** Set before the first test. */
  env: ClusterEnv;
  work: string;
  /** The echo fixture by digest, pushed as `echoRepo:tag` for each of `echoTags` (the first). */
  image: string;
}

export interface SuiteOptions {
  /** Tags of the echo fixture to push (default: none). */
  echoTags?: string[];
  echoRepo?: string;
  /** More set-up, after the above, within the same before() (e.g. installing a tool). */
  setup?: (s: ClusterSuite) => void;
  setupTimeoutMs?: number;
}

export function clusterSuite(prefix: string, opts: SuiteOptions = {}): ClusterSuite {
  const cluster = requireCluster();
  const s = {
    skip: typeof cluster === 'string' ? cluster : false,
    ns: `${prefix}-${Date.now().toString(36)}`,
  } as ClusterSuite;
  before(
    async () => {
      // The runner may start this hook while the file's module body is still running (the
      // suite is made at its top): let the body finish first, so set-up code can use the
      // file's constants declared after the clusterSuite() call.
      await Promise.resolve();
      if (s.skip) return;
      s.env = cluster as ClusterEnv;
      s.work = mkdtempSync(join(tmpdir(), `${prefix}-`));
      for (const [i, tag] of (opts.echoTags ?? []).entries()) {
        const ref = pushEchoImage(s.env, opts.echoRepo ?? 'gantry-it/echo', tag);
        if (i === 0) s.image = ref;
      }
      opts.setup?.(s);
    },
    { timeout: opts.setupTimeoutMs ?? 120_000 },
  );
  after(() => {
    if (s.skip) return;
    run('kubectl', ['delete', 'namespace', s.ns, '--wait=false'], s.env);
    rmSync(s.work, { recursive: true, force: true });
  });
  return s;
}
