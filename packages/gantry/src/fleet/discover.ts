// Which spec files a set of -f arguments names: a file is itself; a directory is
// every gantry spec below it (YAML whose document has `apiVersion:
// gantry.dev/v1alpha1` and no `kind`, so chaos experiments and plain Kubernetes
// manifests beside the specs are left alone), found to a bounded depth.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseDocument } from 'yaml';
import { SPEC_API_VERSION } from '../spec/schema.js';
import { SpecError } from '../spec/errors.js';

const MAX_DEPTH = 4;
const MAX_FILES = 500;
const SKIP_DIRS = new Set(['node_modules', 'dist', 'bundle']);

export function findSpecFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      // Not there: the loader reports it as it always has (file: cannot read).
    }
    if (!isDir) {
      out.push(p);
      continue;
    }
    const found = walk(p, 0).filter(isSpecFile);
    if (found.length === 0) {
      throw new SpecError([
        {
          file: p,
          line: 0,
          column: 0,
          field: '',
          message: `no gantry spec in this directory or below it (YAML files with apiVersion: ${SPEC_API_VERSION}, ${MAX_DEPTH} levels deep)`,
        },
      ]);
    }
    out.push(...found);
  }
  return [...new Set(out)];
}

function walk(dir: string, depth: number): string[] {
  if (depth > MAX_DEPTH) return [];
  const files: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  );
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) files.push(...walk(path, depth + 1));
    } else if (/\.ya?ml$/.test(e.name)) {
      files.push(path);
    }
    if (files.length > MAX_FILES) {
      throw new SpecError([
        {
          file: relative('.', dir) || dir,
          line: 0,
          column: 0,
          field: '',
          message: `more than ${MAX_FILES} YAML files below this directory; name a smaller one`,
        },
      ]);
    }
  }
  return files;
}

function isSpecFile(file: string): boolean {
  let doc: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    if (text.length > 1024 * 1024) return false;
    doc = parseDocument(text, { uniqueKeys: false }).toJS({ maxAliasCount: 100 });
  } catch {
    return false;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return false;
  const d = doc as Record<string, unknown>;
  return d.apiVersion === SPEC_API_VERSION && d.kind === undefined;
}
