// Schema migrations: an ordered list, applied once each, recorded in schema_migrations.
// Safe when several replicas start at once: PostgreSQL serialises runners with an advisory lock,
// SQLite with BEGIN IMMEDIATE (a write lock taken before reading what is applied).
import type Database from 'better-sqlite3';
import type { Pool } from 'pg';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sqlite: string;
  readonly postgres: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'create users',
    sqlite: `
      CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        email TEXT NOT NULL,
        email_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        CONSTRAINT users_email_key_unique UNIQUE (email_key)
      );`,
    postgres: `
      CREATE TABLE users (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT NOT NULL,
        email_key TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        CONSTRAINT users_email_key_unique UNIQUE (email_key)
      );`,
  },
];

export interface MigrationResult {
  /** Versions applied by this call (empty when the schema was already current). */
  readonly applied: number[];
}

const SQLITE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

export function migrateSqlite(db: Database.Database): MigrationResult {
  const applied: number[] = [];
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(SQLITE_TABLE);
    const done = new Set(
      db
        .prepare<[], { version: number }>('SELECT version FROM schema_migrations')
        .all()
        .map((r) => r.version),
    );
    const record = db.prepare(
      'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
    );
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      db.exec(m.sqlite);
      record.run(m.version, m.name, new Date().toISOString());
      applied.push(m.version);
    }
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
  return { applied };
}

// Advisory lock key: a fixed class id plus a hash of the schema, so services sharing one
// database in different schemas (tests, tenants) don't wait on each other.
const LOCK_CLASS = 0x6761; // "ga"

export async function migratePostgres(pool: Pool): Promise<MigrationResult> {
  const applied: number[] = [];
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1, hashtext(coalesce(current_schema(), '')))", [
      LOCK_CLASS,
    ]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query<{ version: number }>(
        'SELECT version FROM schema_migrations',
      );
      const done = new Set(rows.map((r) => r.version));
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.postgres);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
            m.version,
            m.name,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
        applied.push(m.version);
      }
    } finally {
      await client.query(
        "SELECT pg_advisory_unlock($1, hashtext(coalesce(current_schema(), '')))",
        [LOCK_CLASS],
      );
    }
  } finally {
    client.release();
  }
  return { applied };
}
