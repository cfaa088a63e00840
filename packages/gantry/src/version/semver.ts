// Semantic versions (semver.org 2.0.0): parse, compare, bump, format.

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  prerelease: (string | number)[];
  build: string[];
}

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

export function parseSemver(text: string): SemVer | undefined {
  const m = SEMVER.exec(text.startsWith('v') ? text.slice(1) : text);
  if (!m) return undefined;
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    prerelease: m[4] ? m[4].split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [],
    build: m[5] ? m[5].split('.') : [],
  };
}

export function formatSemver(v: SemVer): string {
  let s = `${v.major}.${v.minor}.${v.patch}`;
  if (v.prerelease.length) s += `-${v.prerelease.join('.')}`;
  if (v.build.length) s += `+${v.build.join('.')}`;
  return s;
}

/** Precedence order (build metadata ignored), as semver.org section 11. */
export function compareSemver(a: SemVer, b: SemVer): number {
  for (const k of ['major', 'minor', 'patch'] as const) {
    if (a[k] !== b[k]) return a[k] - b[k];
  }
  if (!a.prerelease.length || !b.prerelease.length) {
    return (b.prerelease.length ? 1 : 0) - (a.prerelease.length ? 1 : 0);
  }
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i];
    const y = b.prerelease[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

export type BumpKind = 'major' | 'minor' | 'patch';

export function bump(v: SemVer, kind: BumpKind): SemVer {
  const base = { prerelease: [], build: [] };
  if (kind === 'major') return { ...base, major: v.major + 1, minor: 0, patch: 0 };
  if (kind === 'minor') return { ...base, major: v.major, minor: v.minor + 1, patch: 0 };
  // A pre-release of X.Y.Z bumps to X.Y.Z itself.
  return {
    ...base,
    major: v.major,
    minor: v.minor,
    patch: v.prerelease.length ? v.patch : v.patch + 1,
  };
}
