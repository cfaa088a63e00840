// Migrations are applied exactly once when several replicas start at the same moment.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { MIGRATIONS } from '../../src/db/migrations.js';
import { PostgresUserRepository } from '../../src/db/postgres.js';
import { SqliteUserRepository } from '../../src/db/sqlite.js';
import { tempDir } from '../helpers/dirs.js';
import { createSchema, postgresSkip } from '../helpers/pg.js';

const REPLICAS = 6;

describe('PostgreSQL migrations', { skip: postgresSkip() }, () => {
  test(`${REPLICAS} instances starting at once on a fresh schema all succeed`, async () => {
    const schema = await createSchema('migrate');
    const repos: PostgresUserRepository[] = [];
    try {
      const opened = await Promise.all(
        Array.from({ length: REPLICAS }, () => PostgresUserRepository.open(schema.url)),
      );
      repos.push(...opened);
      const appliers = opened.filter((r) => r.migration.applied.length > 0);
      assert.equal(appliers.length, 1, 'exactly one instance applies the migrations');
      assert.deepEqual(
        appliers[0]!.migration.applied,
        MIGRATIONS.map((m) => m.version),
      );
      // Every instance serves.
      const apps = await Promise.all(opened.map((repository) => buildApp({ repository })));
      for (const { server } of apps) {
        assert.equal((await server.inject('/readyz')).statusCode, 200);
        await server.close();
      }
      const client = new pg.Client({ connectionString: schema.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ version: number; n: string }>(
          'SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version',
        );
        assert.deepEqual(
          rows.map((r) => [r.version, Number(r.n)]),
          MIGRATIONS.map((m) => [m.version, 1]),
        );
        const where = await client.query<{ schema: string }>(
          "SELECT table_schema AS schema FROM information_schema.tables WHERE table_name = 'users'",
        );
        // Other tests, benchmarks and deployed services may use the same database
        // (and its public schema); what matters is that search_path was honoured.
        const schemas = where.rows.map((r) => r.schema);
        assert.ok(schemas.includes(schema.name), 'the users table is in the test schema');
      } finally {
        await client.end();
      }
      // Starting again later is a no-op.
      const again = await PostgresUserRepository.open(schema.url);
      repos.push(again);
      assert.deepEqual(again.migration.applied, []);
    } finally {
      await Promise.all(repos.map((r) => r.close()));
      await schema.drop();
    }
  });
});

describe('SQLite migrations', () => {
  const dir = tempDir();
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('several threads opening one fresh file at once apply migrations once', async () => {
    const file = join(dir, 'race.db');
    const gate = new SharedArrayBuffer(4);
    const workers = Array.from(
      { length: 4 },
      () =>
        new Worker(new URL('./sqlite-migrate-worker.mjs', import.meta.url), {
          workerData: { file, gate },
        }),
    );
    const ready: Promise<void>[] = [];
    const results = workers.map(
      (w) =>
        new Promise<number[]>((resolve, reject) => {
          ready.push(new Promise((r) => w.once('message', () => r())));
          w.once('error', reject);
          w.on('message', (m: unknown) => {
            if (Array.isArray(m)) resolve(m as number[]);
          });
        }),
    );
    // Release every worker at once, when all have loaded the code.
    await Promise.all(ready);
    const flag = new Int32Array(gate);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    const applied = await Promise.all(results);
    await Promise.all(workers.map((w) => w.terminate()));
    assert.equal(applied.filter((a) => a.length > 0).length, 1, JSON.stringify(applied));
    const repo = new SqliteUserRepository(file);
    try {
      assert.deepEqual(repo.migration.applied, []);
      await repo.create({ name: 'x', email: 'x@example.com' });
    } finally {
      await repo.close();
    }
  });
});
