// What the console's browser tests share: a namespace of their own on the local cluster,
// Debian's Chromium driven by playwright-core (every request and page error recorded),
// gantry (and `gantry console`) as child processes that do not block the test, a
// kubeconfig for a ServiceAccount's token, screenshots into test/console/artifacts/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { kubectl, requireCluster, run } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { gantryBin } from '../gantry-cli.js';

export const CHROMIUM = '/usr/bin/chromium';
export const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));

/** The cluster, or why the browser tests are skipped (thrown in CI when the cluster is up). */
export function browserCluster(): ClusterEnv | string {
  const cluster = requireCluster();
  const skip =
    typeof cluster === 'string'
      ? cluster
      : existsSync(CHROMIUM)
        ? false
        : `${CHROMIUM} is missing (hack/deps.sh installs it)`;
  if (skip && process.env.CI === 'true' && typeof cluster !== 'string') throw new Error(skip);
  return skip || cluster;
}

export interface Running {
  child: ChildProcess;
  /** What it printed so far. */
  output: { stdout: string; stderr: string };
  result: Promise<{ status: number | null; stdout: string; stderr: string }>;
}

export interface RunningConsole extends Running {
  url: string;
  origin: string;
}

export class BrowserFixture {
  readonly ns: string;
  env!: ClusterEnv;
  work!: string;
  browser!: Browser;
  readonly children: ChildProcess[] = [];
  /** Every URL a page asked for, by console origin. */
  readonly requested: { origin: string; url: string }[] = [];
  /** Uncaught errors in any page. */
  readonly pageErrors: string[] = [];

  constructor(prefix: string) {
    this.ns = `${prefix}-${Date.now().toString(36)}`;
  }

  async setUp(env: ClusterEnv): Promise<void> {
    this.env = env;
    this.work = mkdtempSync(join(tmpdir(), 'gantry-console-'));
    mkdirSync(artifacts, { recursive: true });
    kubectl(env, ['create', 'namespace', this.ns]);
    this.browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }

  async tearDown(): Promise<void> {
    await this.browser?.close();
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGTERM');
    run('kubectl', ['delete', 'namespace', this.ns, '--wait=false'], this.env);
    rmSync(this.work, { recursive: true, force: true });
    process.stdout.write(`console screenshots: ${artifacts}\n`);
  }

  /** gantry as a child process that does not block this one (the browser runs meanwhile). */
  gantry(args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 180_000): Running {
    const child = spawn(process.execPath, [gantryBin, ...args], {
      env: { ...process.env, ...this.env, ...extraEnv },
    });
    this.children.push(child);
    const output = { stdout: '', stderr: '' };
    child.stdout?.on('data', (d: Buffer) => (output.stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output.stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    return {
      child,
      output,
      result: new Promise((resolve) =>
        child.on('exit', (status) => {
          clearTimeout(timer);
          resolve({ status, ...output });
        }),
      ),
    };
  }

  /** Starts `gantry console` and resolves with the URL it prints. */
  async startConsole(
    args: string[],
    extraEnv: Record<string, string> = {},
    timeoutMs = 170_000,
  ): Promise<RunningConsole> {
    const r = this.gantry(['console', ...args], extraEnv, timeoutMs);
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`gantry console printed no URL: ${r.output.stdout}`)),
        20_000,
      );
      r.child.stdout?.on('data', () => {
        const m = /(https?:\/\/\S+)/.exec(r.output.stdout);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      void r.result.then((x) =>
        reject(new Error(`gantry console exited ${x.status}: ${x.stderr}`)),
      );
    });
    return { ...r, url, origin: new URL(url).origin };
  }

  async newPage(
    origin: string,
    opts: { width?: number; height?: number; scheme?: 'light' | 'dark' } = {},
  ): Promise<{ context: BrowserContext; page: Page }> {
    const context = await this.browser.newContext({
      viewport: { width: opts.width ?? 1280, height: opts.height ?? 720 },
      colorScheme: opts.scheme ?? 'light',
    });
    context.on('request', (req) => this.requested.push({ origin, url: req.url() }));
    const page = await context.newPage();
    page.on('pageerror', (e) => this.pageErrors.push(e.message));
    return { context, page };
  }

  /**
   * A kubeconfig for ServiceAccount `name` of the test's namespace (created here): the
   * cluster of the admin kubeconfig, the account's token (10 minutes).
   */
  serviceAccountKubeconfig(name: string): string {
    kubectl(this.env, ['-n', this.ns, 'create', 'serviceaccount', name]);
    const token = kubectl(this.env, [
      '-n',
      this.ns,
      'create',
      'token',
      name,
      '--duration',
      '10m',
    ]).trim();
    const raw = JSON.parse(
      kubectl(this.env, ['config', 'view', '--raw', '--minify', '-o', 'json']),
    ) as { clusters: { name: string; cluster: Record<string, unknown> }[] };
    const c0 = raw.clusters[0]!;
    const file = join(this.work, `${name}.kubeconfig`);
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: c0.name, cluster: c0.cluster }],
        users: [{ name, user: { token } }],
        contexts: [{ name, context: { cluster: c0.name, user: name } }],
        'current-context': name,
      }),
    );
    return file;
  }

  /** No request of the console's pages went to another origin, and no page threw. */
  assertStayedHome(): void {
    assert.deepEqual(this.pageErrors, []);
    const elsewhere = this.requested.filter((r) => new URL(r.url).origin !== r.origin);
    assert.deepEqual(elsewhere, []);
  }
}

export async function shoot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage });
}

/** Text of the first element matching `selector`, waited for until it satisfies `ok`. */
export async function waitText(
  page: Page,
  selector: string,
  ok: (t: string) => boolean,
  timeout: number,
): Promise<string> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const t =
      (await page
        .locator(selector)
        .first()
        .textContent({ timeout: 1000 })
        .catch(() => null)) ?? '';
    if (ok(t)) return t;
    if (Date.now() > deadline)
      throw new Error(`"${selector}" still reads "${t}" after ${timeout} ms`);
    await page.waitForTimeout(50);
  }
}

/** Whatever would let a person act: none of it may be in a read-only console's page. */
export const ACTION_CONTROLS =
  '[data-action], .actions, .action-log, dialog, [data-testid="confirm-dialog"]';
