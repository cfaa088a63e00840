// SQLite backend (better-sqlite3): the embedded default. Statements are prepared once.
// better-sqlite3 is synchronous; each call is short (indexed lookups), so it runs inline.
import Database from 'better-sqlite3';
import { migrateSqlite } from './migrations.js';
import type { MigrationResult } from './migrations.js';
import { UniqueViolationError, emailKey } from '../users/repository.js';
import type {
  ListOptions,
  NewUser,
  User,
  UserChanges,
  UserRepository,
} from '../users/repository.js';

/** Rows come back as arrays (raw mode): cheaper than objects we would only copy again. */
type Row = [id: number, name: string, email: string, createdAt: string, updatedAt: string];

const COLUMNS = 'id, name, email, created_at, updated_at';

function toUser(row: Row): User {
  return { id: row[0], name: row[1], email: row[2], createdAt: row[3], updatedAt: row[4] };
}

function translate(err: unknown): Error {
  if (
    err instanceof Error &&
    'code' in err &&
    (err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
  ) {
    return new UniqueViolationError('users_email_key_unique');
  }
  return err instanceof Error ? err : new Error(String(err));
}

export class SqliteUserRepository implements UserRepository {
  readonly kind = 'sqlite';
  readonly migration: MigrationResult;
  private readonly db: Database.Database;
  private readonly stmts;

  /** path is a file path or ":memory:". Runs migrations. */
  constructor(path: string) {
    this.db = new Database(path);
    // Before anything that locks: switching a fresh file to WAL takes an exclusive lock,
    // and without a busy timeout a second process opening it at once fails SQLITE_BUSY.
    this.db.pragma('busy_timeout = 5000');
    if (path !== ':memory:') {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
    }
    this.db.pragma('foreign_keys = ON');
    this.migration = migrateSqlite(this.db);
    this.stmts = {
      insert: this.db
        .prepare<[string, string, string, string, string], Row>(
          `INSERT INTO users (name, email, email_key, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?) RETURNING ${COLUMNS}`,
        )
        .raw(true),
      get: this.db.prepare<[number], Row>(`SELECT ${COLUMNS} FROM users WHERE id = ?`).raw(true),
      listFrom: this.db
        .prepare<[number, number], Row>(
          `SELECT ${COLUMNS} FROM users WHERE id > ? ORDER BY id LIMIT ?`,
        )
        .raw(true),
      update: this.db
        .prepare<[string | null, string | null, string | null, string, number], Row>(
          `UPDATE users SET name = coalesce(?, name), email = coalesce(?, email),
           email_key = coalesce(?, email_key), updated_at = ?
         WHERE id = ? RETURNING ${COLUMNS}`,
        )
        .raw(true),
      delete: this.db.prepare<[number]>('DELETE FROM users WHERE id = ?'),
      ping: this.db.prepare('SELECT 1'),
    };
  }

  create(user: NewUser): Promise<User> {
    const now = new Date().toISOString();
    try {
      const row = this.stmts.insert.get(user.name, user.email, emailKey(user.email), now, now);
      return Promise.resolve(toUser(row!));
    } catch (err) {
      return Promise.reject(translate(err));
    }
  }

  get(id: number): Promise<User | undefined> {
    const row = this.stmts.get.get(id);
    return Promise.resolve(row === undefined ? undefined : toUser(row));
  }

  list(opts: ListOptions): Promise<User[]> {
    return Promise.resolve(this.stmts.listFrom.all(opts.afterId ?? 0, opts.limit).map(toUser));
  }

  update(id: number, changes: UserChanges): Promise<User | undefined> {
    const email = changes.email ?? null;
    try {
      const row = this.stmts.update.get(
        changes.name ?? null,
        email,
        email === null ? null : emailKey(email),
        new Date().toISOString(),
        id,
      );
      return Promise.resolve(row === undefined ? undefined : toUser(row));
    } catch (err) {
      return Promise.reject(translate(err));
    }
  }

  delete(id: number): Promise<boolean> {
    return Promise.resolve(this.stmts.delete.run(id).changes > 0);
  }

  ping(): Promise<void> {
    this.stmts.ping.get();
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}
