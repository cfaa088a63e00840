// The version of a working tree, from git tags: a release tag vX.Y.Z on a
// clean HEAD gives X.Y.Z; anything else is a pre-release of the next minor
// with the distance and commit as metadata, e.g. 1.4.0-dev.3+abc1234.
import { execFileSync } from 'node:child_process';
import { bump, compareSemver, formatSemver, parseSemver } from './semver.js';
import type { BumpKind, SemVer } from './semver.js';

export interface SourceVersion {
  /** The semver to stamp on artifacts. */
  version: string;
  /** Full commit hash of HEAD, or "unknown" outside git. */
  gitSha: string;
  /** The release tag this version derives from, if any. */
  tag?: string;
  /** Commits since that tag. */
  distance: number;
  dirty: boolean;
}

export class VersionError extends Error {
  override name = 'VersionError';
}

function git(dir: string, args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

function tryGit(dir: string, args: string[]): string | undefined {
  try {
    return git(dir, args);
  } catch {
    return undefined;
  }
}

/** The newest semver tag (vX.Y.Z) reachable from HEAD, ignoring other tags. */
function latestTag(dir: string): { tag: string; v: SemVer } | undefined {
  const merged = tryGit(dir, ['tag', '--merged', 'HEAD', '--list', 'v*']) ?? '';
  let best: { tag: string; v: SemVer } | undefined;
  for (const tag of merged.split('\n').filter(Boolean)) {
    const v = parseSemver(tag);
    if (!v || v.build.length) continue;
    if (!best || compareSemver(v, best.v) > 0) best = { tag, v };
  }
  return best;
}

export function sourceVersion(dir: string): SourceVersion {
  const sha = tryGit(dir, ['rev-parse', 'HEAD']);
  if (!sha) return { version: '0.0.0-dev', gitSha: 'unknown', distance: 0, dirty: false };
  const dirty = (tryGit(dir, ['status', '--porcelain', '--untracked-files=no']) ?? '') !== '';
  const latest = latestTag(dir);
  const distance = Number(
    tryGit(dir, ['rev-list', '--count', latest ? `${latest.tag}..HEAD` : 'HEAD']) ?? '0',
  );
  const short = sha.slice(0, 7);
  if (latest && distance === 0 && !dirty) {
    return { version: formatSemver(latest.v), gitSha: sha, tag: latest.tag, distance, dirty };
  }
  const base = latest
    ? bump(latest.v, latest.v.prerelease.length ? 'patch' : 'minor')
    : parseSemver('0.1.0')!;
  const v: SemVer = {
    ...base,
    prerelease: latest?.v.prerelease.length
      ? [...latest.v.prerelease, 'dev', distance]
      : ['dev', distance],
    build: dirty ? [short, 'dirty'] : [short],
  };
  return {
    version: formatSemver(v),
    gitSha: sha,
    ...(latest ? { tag: latest.tag } : {}),
    distance,
    dirty,
  };
}

/** Tags HEAD with the next release version (annotated tag vX.Y.Z). */
export function bumpVersion(dir: string, kind: BumpKind): { tag: string; version: string } {
  if (!tryGit(dir, ['rev-parse', 'HEAD']))
    throw new VersionError(`${dir} is not a git repository with commits`);
  if ((tryGit(dir, ['status', '--porcelain', '--untracked-files=no']) ?? '') !== '') {
    throw new VersionError(
      'the working tree has uncommitted changes; commit them before tagging a release',
    );
  }
  const onHead = (tryGit(dir, ['tag', '--points-at', 'HEAD', '--list', 'v*']) ?? '')
    .split('\n')
    .filter(Boolean);
  for (const t of onHead) {
    if (!parseSemver(t))
      throw new VersionError(`HEAD has tag "${t}", which is not a semantic version (vX.Y.Z)`);
    throw new VersionError(`HEAD is already released as ${t}`);
  }
  const latest = latestTag(dir);
  const next = formatSemver(bump(latest?.v ?? parseSemver('0.0.0')!, kind));
  const tag = `v${next}`;
  git(dir, ['tag', '-a', tag, '-m', `release ${next}`]);
  return { tag, version: next };
}
