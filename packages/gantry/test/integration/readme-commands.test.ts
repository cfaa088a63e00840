// The README's two commands leave each other's results working: `npm run up`'s flow (its
// PostgreSQL start, exactly as hack/up.sh runs it, then `gantry up` of the seed
// user-service on that database), then the test suite's PostgreSQL start (as hack/test.sh
// runs it), then `npm run up`'s start again. The shipped service stays ready and keeps its
// data throughout, the main database is never restarted and is durable (fsync on), and the
// test database is a separate instance that still answers.
//
// The service gets a database of its own in the main instance (dropped afterwards) and a
// hostname of its own on the gateway, so a real `npm run up` deployment is not touched.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, requireCluster, run } from '../../../../hack/cluster/test/cluster-env.js';
import type { ClusterEnv } from '../../../../hack/cluster/test/cluster-env.js';
import { once } from '../../../../hack/cluster/test/load.js';
import { gantryBin, runGantry } from '../gantry-cli.js';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const cluster = requireCluster();
const skip = typeof cluster === 'string' ? cluster : false;
const id = Date.now().toString(36);
const ns = `readme-it-${id}`;
const db = `readme_it_${id}`;
const host = `users.${ns}.test`;
const GATEWAY = 'http://127.0.0.1:8000';
const work = mkdtempSync(join(tmpdir(), 'gantry-readme-'));

/** The command lines the two README commands run, as they appear in their scripts. */
const UP_PG =
  'GANTRY_PG_LISTEN=$node_ip GANTRY_PG_DB=user_service bash hack/postgres.sh start main';
const TEST_PG = "GANTRY_PG_LISTEN='' bash hack/postgres.sh start test";

function sh(script: string, extraEnv: Record<string, string> = {}): string {
  const r = spawnSync('bash', ['-c', script], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, ...extraEnv },
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `${script}: ${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}

/** `npm run up`'s PostgreSQL start: hack/up.sh's line, on this test's database. */
function upPostgres(nodeIp: string): string {
  return sh(UP_PG.replace('user_service', db), { node_ip: nodeIp });
}

/** `npm test`'s PostgreSQL start: hack/test.sh's line. */
function testPostgres(): string {
  return sh(TEST_PG);
}

function psql(url: string, query: string): string {
  return sh('psql "$U" -qtAc "$Q"', { U: url, Q: query });
}

/** A JSON POST through the gateway to this test's hostname. */
function post(url: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        headers: { host, 'content-type': 'application/json' },
        agent: false,
        timeout: 5000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`POST ${url}: no answer in 5 s`)));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const postmasterStart = (url: string) => psql(url, 'SELECT pg_postmaster_start_time()');

after(() => {
  if (!skip) {
    const env = cluster as ClusterEnv;
    runGantry(['alerts', 'delete', '-f', join(work, 'gantry.yaml')], env);
    run('kubectl', ['delete', 'namespace', ns, '--wait=false'], env);
    const main = spawnSync('bash', ['hack/postgres.sh', 'url', 'main'], {
      cwd: repo,
      encoding: 'utf8',
      env: { ...process.env, GANTRY_PG_DB: 'postgres' },
    }).stdout.trim();
    spawnSync('psql', [main, '-qc', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
  }
  rmSync(work, { recursive: true, force: true });
});

test(
  'npm run up, then npm test, then npm run up: the shipped service stays ready on a durable database',
  { skip, timeout: 600_000 },
  async (t) => {
    const env = cluster as ClusterEnv;
    for (const [script, line] of [
      ['hack/up.sh', UP_PG],
      ['hack/test.sh', TEST_PG],
    ] as const) {
      assert.ok(
        readFileSync(join(repo, script), 'utf8').includes(line),
        `${script} no longer runs \`${line}\`: update this test`,
      );
    }
    const nodeIp = env.GANTRY_NODE_IP ?? '10.201.0.1';

    // npm run up: the main instance, then gantry up of the seed spec on it.
    const mainUrl = upPostgres(nodeIp);
    assert.match(mainUrl, /^postgres:\/\/gantry:gantry@127\.0\.0\.1:55433\//);
    const mainStarted = postmasterStart(mainUrl);
    assert.equal(
      psql(
        mainUrl,
        "SELECT concat_ws(',', current_setting('fsync'), current_setting('synchronous_commit'), " +
          "current_setting('full_page_writes'))",
      ),
      'on,on,on',
    );
    const spec = join(work, 'gantry.yaml');
    writeFileSync(
      spec,
      readFileSync(join(repo, 'deploy/user-service/gantry.yaml'), 'utf8')
        .replace(/^namespace: .*$/m, `namespace: ${ns}`)
        .replace('users.gantry.local', host)
        .replace('context: ../../services/user-service', `context: ${repo}services/user-service`),
    );
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      USER_SERVICE_DATABASE_URL: mainUrl.replace('127.0.0.1', nodeIp),
    };
    delete childEnv.KUBECONFIG; // the local path, as `npm run up` takes it
    childEnv.PATH = env.PATH;
    const up = spawnSync(process.execPath, [gantryBin, 'up', '-f', spec, '--skip-tests'], {
      encoding: 'utf8',
      env: childEnv,
      timeout: 420_000,
    });
    assert.equal(up.status, 0, up.stdout + up.stderr);

    const ready = async () => {
      const s = await once(`${GATEWAY}/readyz`, { host, timeoutMs: 3000 });
      const replicas = run(
        'kubectl',
        ['-n', ns, 'get', 'deployment', 'user-service', '-o', 'jsonpath={.status.readyReplicas}'],
        env,
      ).stdout;
      return `${s.status} ${replicas}`;
    };
    await eventually('/readyz 200 through the gateway, 3 ready', 60_000, async () =>
      (await ready()) === '200 3' ? true : undefined,
    );
    const created = await post(`${GATEWAY}/api/users`, {
      name: 'Ada',
      email: `ada-${id}@example.com`,
    });
    assert.equal(created.status, 201, created.body);
    const user = JSON.parse(created.body) as { id: string };
    assert.equal(psql(mainUrl, 'SELECT count(*) FROM users'), '1');

    // npm test: its own PostgreSQL start. The main instance is not restarted...
    const testUrl = testPostgres();
    assert.match(testUrl, /^postgres:\/\/gantry:gantry@127\.0\.0\.1:55432\//);
    assert.equal(postmasterStart(mainUrl), mainStarted, 'the main instance was restarted');
    assert.equal(psql(testUrl, 'SHOW fsync'), 'off');
    // ...and the service stays ready (readiness probes every second, failing after 2).
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      seen.push(await ready());
      await sleep(1000);
    }
    t.diagnostic(`after the test suite's start: ${seen.join(', ')}`);
    assert.deepEqual(new Set(seen), new Set(['200 3']), seen.join(', '));

    // npm run up again: nothing restarted, both instances answer, the data is there.
    assert.equal(upPostgres(nodeIp), mainUrl);
    assert.equal(postmasterStart(mainUrl), mainStarted, 'the main instance was restarted');
    assert.equal(psql(testUrl, 'SELECT 1'), '1');
    const got = await once(`${GATEWAY}/api/users/${user.id}`, { host });
    assert.equal(got.status, 200);
    assert.equal(await ready(), '200 3');
  },
);
