export { parseSemver, formatSemver, compareSemver, bump } from './semver.js';
export type { SemVer, BumpKind } from './semver.js';
export { sourceVersion, bumpVersion, VersionError } from './git.js';
export type { SourceVersion } from './git.js';
