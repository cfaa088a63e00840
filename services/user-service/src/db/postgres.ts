// PostgreSQL backend (pg Pool). Queries are named, so each connection prepares them once.
// Use ?options=-c%20search_path%3Dmyschema in DATABASE_URL to place the tables in a schema.
import pg from 'pg';
import type { Pool, PoolConfig } from 'pg';
import { migratePostgres } from './migrations.js';
import type { MigrationResult } from './migrations.js';
import { UniqueViolationError, emailKey } from '../users/repository.js';
import type {
  ListOptions,
  NewUser,
  User,
  UserChanges,
  UserRepository,
} from '../users/repository.js';

interface Row {
  id: string;
  name: string;
  email: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, name, email, created_at, updated_at';

function toUser(row: Row): User {
  return {
    id: Number(row.id),
    name: row.name,
    email: row.email,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function translate(err: unknown): unknown {
  if (err instanceof Error && 'code' in err && err.code === '23505') {
    const constraint = 'constraint' in err ? String(err.constraint) : 'unique';
    return new UniqueViolationError(constraint);
  }
  return err;
}

export interface PostgresOptions {
  readonly poolMax?: number;
  /** Called for errors on idle pooled connections (which would otherwise crash the process). */
  readonly onPoolError?: (err: Error) => void;
}

export class PostgresUserRepository implements UserRepository {
  readonly kind = 'postgres';
  readonly migration: MigrationResult;
  private readonly pool: Pool;

  private constructor(pool: Pool, migration: MigrationResult) {
    this.pool = pool;
    this.migration = migration;
  }

  /** Connects, runs migrations (under an advisory lock) and returns the repository. */
  static async open(url: string, opts: PostgresOptions = {}): Promise<PostgresUserRepository> {
    const config: PoolConfig = {
      connectionString: url,
      max: opts.poolMax ?? 10,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      application_name: 'user-service',
    };
    const pool = new pg.Pool(config);
    pool.on('error', (err) => opts.onPoolError?.(err));
    try {
      const migration = await migratePostgres(pool);
      return new PostgresUserRepository(pool, migration);
    } catch (err) {
      await pool.end();
      throw err;
    }
  }

  async create(user: NewUser): Promise<User> {
    try {
      const { rows } = await this.pool.query<Row>({
        name: 'users_insert',
        text: `INSERT INTO users (name, email, email_key) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
        values: [user.name, user.email, emailKey(user.email)],
      });
      return toUser(rows[0]!);
    } catch (err) {
      throw translate(err);
    }
  }

  async get(id: number): Promise<User | undefined> {
    const { rows } = await this.pool.query<Row>({
      name: 'users_get',
      text: `SELECT ${COLUMNS} FROM users WHERE id = $1`,
      values: [id],
    });
    return rows[0] === undefined ? undefined : toUser(rows[0]);
  }

  async list(opts: ListOptions): Promise<User[]> {
    const { rows } = await this.pool.query<Row>({
      name: 'users_list',
      text: `SELECT ${COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2`,
      values: [opts.afterId ?? 0, opts.limit],
    });
    return rows.map(toUser);
  }

  async update(id: number, changes: UserChanges): Promise<User | undefined> {
    const email = changes.email ?? null;
    try {
      const { rows } = await this.pool.query<Row>({
        name: 'users_update',
        text: `UPDATE users SET name = coalesce($1, name), email = coalesce($2, email),
                 email_key = coalesce($3, email_key), updated_at = now()
               WHERE id = $4 RETURNING ${COLUMNS}`,
        values: [changes.name ?? null, email, email === null ? null : emailKey(email), id],
      });
      return rows[0] === undefined ? undefined : toUser(rows[0]);
    } catch (err) {
      throw translate(err);
    }
  }

  async delete(id: number): Promise<boolean> {
    const result = await this.pool.query({
      name: 'users_delete',
      text: 'DELETE FROM users WHERE id = $1',
      values: [id],
    });
    return (result.rowCount ?? 0) > 0;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
