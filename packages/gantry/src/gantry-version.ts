import { readFileSync } from 'node:fs';

interface PackageJson {
  version: string;
}

/** The version of this Gantry build, read from its package.json. */
export function gantryVersion(): string {
  const url = new URL('../package.json', import.meta.url);
  const pkg = JSON.parse(readFileSync(url, 'utf8')) as PackageJson;
  return pkg.version;
}
