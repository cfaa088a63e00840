// Shell completion: what `gantry __complete` offers for the words typed so far, and the
// bash, zsh and fish scripts of `gantry completion` driven through the real shells.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../../src/cli/main.js';
import { complete } from '../../src/cli/completion.js';
import type { Provider } from '../../src/cli/completion.js';
import { Kube } from '../../src/kube/client.js';
import { ReleaseStore } from '../../src/release/store.js';
import { kubectl, requireCluster } from '../../../../hack/cluster/test/cluster-env.js';
import { gantryBin, runGantry } from '../gantry-cli.js';

const userSpec = fileURLToPath(
  new URL('../../../../deploy/user-service/gantry.yaml', import.meta.url),
);
const values = async (words: string[], providers?: Record<string, Provider>) => {
  const c = await complete(buildProgram(), words, providers);
  return { values: c.candidates.map((x) => x.value), directive: c.directive };
};

test('commands, subcommands and flags complete from the command tree', async () => {
  assert.deepEqual((await values(['rel'])).values, ['release']);
  assert.deepEqual((await values(['release', 'p'])).values, ['pause', 'promote']);
  const flags = (await values(['deploy', '--t'])).values;
  assert.deepEqual(flags, ['--timeout']);
  const all = (await values(['deploy', '-'])).values;
  for (const f of ['-f', '--file', '--image', '-o', '--kubeconfig', '--help'])
    assert.ok(all.includes(f), f);
  assert.ok(!all.includes('--version'), '--version is the program flag only');
  // After a positional argument no subcommand is offered.
  assert.deepEqual((await values(['version', 'bump', 'minor', ''])).values, []);
});

test('values: fixed lists, files and directories, --flag=value in one word', async () => {
  assert.deepEqual(await values(['-o', '']), { values: ['text', 'json'], directive: 'none' });
  assert.deepEqual((await values(['--output=j'])).values, ['--output=json']);
  assert.deepEqual((await values(['alerts', 'render', '--format', 'o'])).values, ['operator']);
  assert.deepEqual((await values(['version', 'bump', ''])).values, ['major', 'minor', 'patch']);
  assert.equal((await values(['deploy', '-f', 'dep'])).directive, 'files');
  assert.equal((await values(['chart', '--out', ''])).directive, 'dirs');
  // A value already given is not taken for a subcommand or an argument.
  assert.deepEqual((await values(['-o', 'json', 'rel'])).values, ['release']);
});

test('spec values: receivers and alert names of the spec given with -f', async () => {
  const r = await values(['alerts', 'test', '-f', userSpec, '']);
  assert.ok(r.values.includes('team-dingtalk'), r.values.join(','));
  const a = await values(['alerts', 'silence', `--file=${userSpec}`, 'GantryE']);
  assert.deepEqual(a.values.sort(), ['GantryErrorLogsHigh', 'GantryErrorRateHigh']);
  // No spec file: nothing, and no error.
  assert.deepEqual((await values(['alerts', 'test', '-f', '/nonexistent.yaml', ''])).values, []);
});

test('a provider that hangs is cut off: <Tab> stays fast', async () => {
  const never: Provider = () => new Promise(() => undefined);
  const t0 = Date.now();
  const r = await values(['rollback', ''], { 'rollback:revision': never });
  assert.deepEqual(r.values, []);
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
});

test('rollback revisions come from the release records in the cluster', async (t) => {
  const env = requireCluster();
  if (typeof env === 'string') return t.skip(env);
  const ns = `complete-${Date.now().toString(36)}`;
  kubectl(env, ['create', 'namespace', ns]);
  t.after(() => kubectl(env, ['delete', 'namespace', ns, '--wait=false']));
  const dir = mkdtempSync(join(tmpdir(), 'gantry-complete-'));
  const spec = join(dir, 'gantry.yaml');
  writeFileSync(
    spec,
    `apiVersion: gantry.dev/v1alpha1\nname: shop\nnamespace: ${ns}\nimage: 127.0.0.1:5000/shop:1.0.0\nports: [{name: http, containerPort: 8080}]\n`,
  );
  const store = new ReleaseStore(Kube.load({ kubeconfig: env.KUBECONFIG }), ns, 'shop');
  for (const revision of [1, 2, 3]) {
    await store.save({
      service: 'shop',
      namespace: ns,
      revision,
      status: revision === 3 ? 'deployed' : 'superseded',
      specDigest: 'x',
      image: `127.0.0.1:5000/shop:1.0.${revision}`,
      objects: [],
      secretHashes: {},
      actor: 'test',
      startedAt: new Date().toISOString(),
    });
  }
  // Through the CLI, as the shell asks it.
  const r = runGantry(
    ['__complete', 'rollback', '-f', spec, ''],
    // This test is about where the values come from, not the cut-off (tested above).
    { ...env, GANTRY_COMPLETION_TIMEOUT_MS: '20000' },
    30_000,
  );
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.deepEqual(
    lines.map((l) => l.split('\t')[0]),
    ['3', '2', '1', ':none'],
  );
  assert.match(lines[0]!, /\tdeployed 127\.0\.0\.1:5000\/shop:1\.0\.3/);

  // A service in the cluster by name: completed from the Deployments Gantry manages, and
  // the commands that need no more than its name take it instead of a spec.
  kubectl(
    env,
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'shop',
        namespace: ns,
        labels: { 'app.kubernetes.io/managed-by': 'gantry', 'app.kubernetes.io/name': 'shop' },
      },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'shop' } },
        template: {
          metadata: { labels: { app: 'shop' } },
          spec: { containers: [{ name: 'shop', image: '127.0.0.1:5000/shop:1.0.3' }] },
        },
      },
    }),
  );
  const slow = { ...env, GANTRY_COMPLETION_TIMEOUT_MS: '20000' };
  const first = (args: string[]) => {
    const c = runGantry(['__complete', ...args], slow, 30_000);
    assert.equal(c.status, 0, c.stderr);
    return c.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t')[0]);
  };
  assert.ok(first(['status', '--service', '']).includes(`${ns}/shop`));
  assert.deepEqual(first(['history', '-n', ns, '--service', 'sh']), ['shop', ':none']);
  assert.ok(first(['console', '-n', 'complete-']).includes(ns));
  assert.deepEqual(first(['rollback', '--service', `${ns}/shop`, '']), ['3', '2', '1', ':none']);
  const h = runGantry(['history', '--service', `${ns}/shop`, '-o', 'json'], env, 30_000);
  assert.equal(h.status, 0, h.stderr);
  const revisions = (JSON.parse(h.stdout) as { revisions: { revision: number }[] }).revisions;
  assert.deepEqual(
    revisions.map((r) => r.revision),
    [3, 2, 1],
  );
  const rs = runGantry(['release', 'status', '-s', 'shop', '-n', ns], env, 30_000);
  assert.equal(rs.status, 0, rs.stderr);
  assert.equal(rs.stdout, `${ns}/shop: no release recorded\n`);
  const restarted = runGantry(['restart', '--service', `${ns}/shop`, '-o', 'json'], env, 60_000);
  assert.equal(restarted.status, 0, restarted.stderr + restarted.stdout);
  assert.match(
    kubectl(env, [
      '-n',
      ns,
      'get',
      'deployment',
      'shop',
      '-o',
      'jsonpath={.spec.template.metadata.annotations}',
    ]),
    /restartedAt/,
  );
  const both = runGantry(['history', '-f', spec, '--service', 'shop'], env, 30_000);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /give -f or --service, not both/);
  const bad = runGantry(['status', '--service', 'a/b/c'], env, 30_000);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--service a\/b\/c: NAME or NAMESPACE\/NAME/);
});

// The scripts run `gantry`, as a user's shell would; a wrapper on PATH starts this checkout.
function shellEnv(): NodeJS.ProcessEnv {
  const bin = mkdtempSync(join(tmpdir(), 'gantry-bin-'));
  writeFileSync(join(bin, 'gantry'), `#!/bin/sh\nexec "${process.execPath}" "${gantryBin}" "$@"\n`);
  chmodSync(join(bin, 'gantry'), 0o755);
  return { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
}

function shell(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, timeout: 30_000 });
  if (r.error) return undefined;
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('bash: the script completes through bash itself', (t) => {
  const env = shellEnv();
  const out = shell(
    'bash',
    [
      '-c',
      `source <(gantry completion bash)
t() { COMP_LINE="$1"; COMP_POINT=\${#COMP_LINE}; read -ra COMP_WORDS <<<"$COMP_LINE"
  [[ $COMP_LINE == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
  _gantry_complete; echo "\${COMPREPLY[*]}"; }
t "gantry release st"; t "gantry -o "; t "gantry deploy -f ${join(userSpec, '..', 'gantry.y')}"`,
    ],
    env,
  );
  if (out === undefined) return t.skip('bash not installed');
  const [first, second, third] = out.trim().split('\n');
  assert.equal(first, 'start status');
  assert.equal(second, 'text json');
  assert.match(third ?? '', /gantry\.yaml$/);
});

test('fish: the script completes through fish itself', (t) => {
  const out = shell(
    'fish',
    ['-c', 'gantry completion fish | source; complete -C "gantry release p"'],
    shellEnv(),
  );
  if (out === undefined) return t.skip('fish not installed (hack/deps.sh installs it)');
  assert.match(out, /^pause\t/m);
  assert.match(out, /^promote\t/m);
});

test('zsh: the script hands candidates with descriptions to _describe', (t) => {
  const out = shell(
    'zsh',
    [
      '-c',
      `compdef() {}; _describe() { print -rl -- "\${(@P)2}"; }; _files() { print FILES "$@"; }
source <(gantry completion zsh)
words=(gantry version bump m); CURRENT=4; _gantry
words=(gantry deploy -f ""); CURRENT=4; _gantry`,
    ],
    shellEnv(),
  );
  if (out === undefined) return t.skip('zsh not installed (hack/deps.sh installs it)');
  assert.deepEqual(out.trim().split('\n'), ['major', 'minor', 'FILES']);
});
