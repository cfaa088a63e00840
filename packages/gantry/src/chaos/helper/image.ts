// The chaos helper image, built by Gantry's own image library: the local
// registry's Node.js base image, the agent's compiled JavaScript (/agent), and
// the node tools the ops run (nsenter, iptables with its extensions, ip, tc,
// stress-ng, fio, ipset, conntrack, socat, dnsmasq) copied from this machine
// (Debian bookworm) with their shared libraries (the ldd closure). The tag is
// the image's own digest, so an unchanged agent and toolset is pushed once and
// reused; elsewhere --helper-image (FaultContext.helperImage) names an image.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCacheDir } from '../../image/cache.js';
import { buildImage, pullImage, pushImage, RegistryClients } from '../../image/image.js';
import type { LayerFile } from '../../image/layer.js';
import { defaultNodeBaseImage } from '../../image/node.js';
import { parseImageRef } from '../../image/ref.js';

/** Tools the helper needs; without one of these the image is not built. */
const REQUIRED = ['nsenter', 'iptables', 'iptables-save', 'ip', 'tc'];
/** Tools some ops need; an op whose tool is missing refuses with the reason. */
const OPTIONAL = [
  'iptables-restore',
  'iptables-legacy',
  'iptables-legacy-save',
  'iptables-legacy-restore',
  'stress-ng',
  'fio',
  'ipset',
  'conntrack',
  'ss',
  'socat',
  'dnsmasq',
];
const SEARCH = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];
/** Where iptables loads its match and target extensions from. */
const XTABLES_DIRS = ['/usr/lib/x86_64-linux-gnu/xtables', '/usr/lib/aarch64-linux-gnu/xtables'];

export class HelperImageError extends Error {
  override name = 'HelperImageError';
}

/** The package root of @gantry/gantry (from src/, dist/ or the CLI bundle). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      const name = (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name;
      if (name === '@gantry/gantry') return dir;
    }
    dir = dirname(dir);
  }
  throw new HelperImageError('cannot find the @gantry/gantry package the agent comes from');
}

function walk(dir: string, keep: (f: string) => boolean): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, keep));
    else if (keep(p)) out.push(p);
  }
  return out.sort();
}

/**
 * The agent's JavaScript, as files under /agent: dist/chaos/agent when Gantry runs
 * compiled (or bundled), else (tests under tsx) src/chaos/agent transpiled by esbuild.
 */
async function agentFiles(): Promise<LayerFile[]> {
  const root = packageRoot();
  const fromSource = import.meta.url.endsWith('.ts');
  const files: LayerFile[] = [{ target: '/agent/package.json', data: '{"type":"module"}\n' }];
  if (!fromSource) {
    const dist = join(root, 'dist/chaos/agent');
    if (!existsSync(join(dist, 'main.js')))
      throw new HelperImageError(`${dist}/main.js is missing: build Gantry first (npm run build)`);
    for (const f of walk(dist, (p) => p.endsWith('.js')))
      files.push({ source: f, target: `/agent/${relative(dist, f)}`, mode: 0o644 });
    return files;
  }
  const src = join(root, 'src/chaos/agent');
  // Through require, so the CLI bundle does not take esbuild in (only tests run from source).
  const esbuild = createRequire(import.meta.url)('esbuild') as {
    transform: (
      code: string,
      o: { loader: 'ts'; format: 'esm'; target: string; sourcefile: string },
    ) => Promise<{ code: string }>;
  };
  for (const f of walk(src, (p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))) {
    const out = await esbuild.transform(readFileSync(f, 'utf8'), {
      loader: 'ts',
      format: 'esm',
      target: 'node20',
      sourcefile: f,
    });
    files.push({
      target: `/agent/${relative(src, f).replace(/\.ts$/, '.js')}`,
      data: out.code,
      mode: 0o644,
    });
  }
  return files;
}

function which(name: string): string | undefined {
  for (const d of SEARCH) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function lddLibs(file: string): string[] {
  const r = spawnSync('ldd', [file], { encoding: 'utf8' });
  if (r.status !== 0) return []; // static, or not an ELF program
  const out: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

/** The tools, their symlinks (multi-call binaries go by argv[0]) and their libraries. */
export function toolFiles(): { files: LayerFile[]; tools: string[]; missing: string[] } {
  const files = new Map<string, LayerFile>();
  const libs = new Set<string>();
  const tools: string[] = [];
  const missing: string[] = [];
  const addProgram = (path: string) => {
    // A chain of symlinks (iptables -> /etc/alternatives/iptables -> iptables-nft ->
    // xtables-nft-multi) becomes one symlink to the real file, next to it.
    const real = realpathSync(path);
    files.set(real, { source: real, target: real, mode: 0o755 });
    if (real !== path) {
      const link = dirname(real) === dirname(path) ? relative(dirname(path), real) : real;
      files.set(path, { symlink: link, target: path });
    }
    for (const l of lddLibs(real)) libs.add(l);
  };
  for (const name of [...REQUIRED, ...OPTIONAL]) {
    const p = which(name);
    if (!p) {
      if (REQUIRED.includes(name))
        throw new HelperImageError(
          `${name} is not installed on this machine; the helper image copies it (hack/deps.sh installs it)`,
        );
      missing.push(name);
      continue;
    }
    tools.push(name);
    addProgram(p);
  }
  for (const dir of XTABLES_DIRS) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (!statSync(p).isFile()) continue;
      files.set(p, { source: p, target: p, mode: 0o644 });
      for (const l of lddLibs(p)) libs.add(l);
    }
  }
  for (const lib of libs) {
    if (files.has(lib)) continue;
    files.set(lib, { source: realpathSync(lib), target: lib, mode: 0o755 });
  }
  for (const etc of ['/etc/protocols', '/etc/services', '/etc/ethertypes']) {
    if (existsSync(etc)) files.set(etc, { source: realpathSync(etc), target: etc, mode: 0o644 });
  }
  return { files: [...files.values()], tools, missing };
}

export interface HelperImage {
  /** registry/repository@sha256:... */
  ref: string;
  /** Tools copied in, and optional ones this machine lacks (known when it was built here). */
  tools?: string[];
  missing?: string[];
  /** Whether this call pushed anything. */
  pushed: boolean;
}

const built = new Map<string, Promise<HelperImage>>();

/**
 * Builds the helper image and pushes it to the registry (GANTRY_REGISTRY, else the
 * base image's registry) once per process; a push of an unchanged image only checks
 * that its blobs are there.
 */
export function ensureHelperImage(
  opts: { registry?: string; base?: string; onProgress?: (m: string) => void } = {},
): Promise<HelperImage> {
  const base = opts.base ?? defaultNodeBaseImage();
  const registry = opts.registry ?? process.env.GANTRY_REGISTRY ?? parseImageRef(base).registry;
  const key = `${registry} ${base}`;
  let p = built.get(key);
  if (!p) {
    p = buildAndPush(registry, base, opts.onProgress ?? (() => undefined));
    built.set(key, p);
    p.catch(() => built.delete(key));
  }
  return p;
}

/**
 * What the image is made of, cheaply: each tool's and iptables extension's path, size
 * and mtime, the agent's sources, the base. Unchanged: the image pushed last time is
 * reused once the registry confirms it still has it, without running ldd or reading
 * 40 MB of tools again. (Libraries are not in it: they change with their programs.)
 */
function fingerprint(registry: string, base: string): string {
  const h = createHash('sha256').update(`${registry}\n${base}\n`);
  const stamp = (p: string) => {
    const st = statSync(p);
    h.update(`${p} ${st.size} ${st.mtimeMs}\n`);
  };
  for (const name of [...REQUIRED, ...OPTIONAL]) {
    const p = which(name);
    h.update(`${name} `);
    if (p) stamp(realpathSync(p));
  }
  for (const dir of XTABLES_DIRS)
    if (existsSync(dir)) for (const f of readdirSync(dir)) stamp(join(dir, f));
  const root = packageRoot();
  const fromSource = import.meta.url.endsWith('.ts');
  const agentDir = join(root, fromSource ? 'src/chaos/agent' : 'dist/chaos/agent');
  h.update(fromSource ? 'src\n' : 'dist\n');
  if (existsSync(agentDir))
    for (const f of walk(agentDir, (p) => /\.(ts|js)$/.test(p)))
      h.update(f).update(readFileSync(f));
  return h.digest('hex').slice(0, 32);
}

async function buildAndPush(
  registry: string,
  base: string,
  progress: (m: string) => void,
): Promise<HelperImage> {
  const key = fingerprint(registry, base);
  const memo = join(defaultCacheDir(), 'chaos-helper', key);
  if (existsSync(memo)) {
    const ref = readFileSync(memo, 'utf8').trim();
    const there = await pullImage(ref).then(
      () => true,
      () => false,
    );
    if (there) return { ref, pushed: false };
  }
  const img = await buildHelper(registry, base, progress, toolFiles(), await agentFiles());
  mkdirSync(dirname(memo), { recursive: true });
  writeFileSync(memo, `${img.ref}\n`);
  return img;
}

async function buildHelper(
  registry: string,
  base: string,
  progress: (m: string) => void,
  tools: ReturnType<typeof toolFiles>,
  agent: LayerFile[],
): Promise<HelperImage> {
  const t0 = Date.now();
  const clients = new RegistryClients();
  const image = await buildImage({
    base,
    clients,
    created: 0,
    layers: [
      { comment: 'chaos helper tools from the host', files: tools.files, mtime: 0 },
      { comment: 'gantry chaos agent', files: agent, mtime: 0 },
    ],
    config: {
      entrypoint: ['/usr/local/bin/node', '/agent/main.js'],
      user: '0:0',
      workingDir: '/agent',
      env: { PATH: '/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', NODE_ENV: 'production' },
    },
    metadata: {
      title: 'gantry chaos helper',
      description: 'The gantry chaos agent with nsenter, iptables, iproute2, stress-ng and fio',
    },
  });
  const repository = 'gantry/chaos-helper';
  const tag = `agent-${image.digest.slice(7, 23)}`;
  const pushed = await pushImage(image, { registry, repository, tag }, { clients });
  progress(
    `helper image ${pushed.pinned} (${((Date.now() - t0) / 1000).toFixed(1)}s, ${(pushed.bytesUploaded / 1048576).toFixed(1)} MiB sent)`,
  );
  return {
    ref: pushed.pinned,
    tools: tools.tools,
    missing: tools.missing,
    pushed: pushed.bytesUploaded > 0,
  };
}
