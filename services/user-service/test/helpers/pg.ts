// PostgreSQL for tests. TEST_DATABASE_URL names a server; every test gets its own fresh schema
// (selected with search_path in the connection options), so runs are parallel-safe and
// repeatable. Without TEST_DATABASE_URL the tests skip, except under CI=true, where they fail.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;

/** Skip reason for PostgreSQL suites, or false when they should run. */
export function postgresSkip(): string | false {
  if (TEST_DATABASE_URL !== undefined) return false;
  if (process.env.CI === 'true') {
    test('PostgreSQL is available to the tests (required when CI=true)', () => {
      assert.fail(
        'TEST_DATABASE_URL is not set but CI=true: start PostgreSQL with ' +
          '`bash hack/postgres.sh start` and export TEST_DATABASE_URL=<the URL it prints>',
      );
    });
    return 'TEST_DATABASE_URL is not set (reported as a failure because CI=true)';
  }
  return (
    'TEST_DATABASE_URL is not set: PostgreSQL tests skipped. Run `bash hack/postgres.sh start` ' +
    'and export TEST_DATABASE_URL=<the URL it prints> to include them'
  );
}

export interface TestSchema {
  readonly name: string;
  /** TEST_DATABASE_URL with search_path set to the schema. */
  readonly url: string;
  drop(): Promise<void>;
}

export function urlWithSchema(base: string, schema: string): string {
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

export async function createSchema(prefix = 'test'): Promise<TestSchema> {
  assert.ok(TEST_DATABASE_URL, 'TEST_DATABASE_URL must be set');
  const base = TEST_DATABASE_URL;
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA "${name}"`);
  } finally {
    await client.end();
  }
  return {
    name,
    url: urlWithSchema(base, name),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}
