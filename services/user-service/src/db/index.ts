// Opens the repository named by DATABASE_URL (already parsed into a DatabaseTarget).
import type { DatabaseTarget } from '../config/keys.js';
import type { UserRepository } from '../users/repository.js';
import type { MigrationResult } from './migrations.js';
import { PostgresUserRepository } from './postgres.js';
import type { PostgresOptions } from './postgres.js';
import { SqliteUserRepository } from './sqlite.js';

export async function openRepository(
  target: DatabaseTarget,
  opts: PostgresOptions = {},
): Promise<UserRepository & { readonly migration: MigrationResult }> {
  if (target.kind === 'sqlite') return new SqliteUserRepository(target.path);
  return PostgresUserRepository.open(target.url, opts);
}

/** Describes the target for logs without credentials. */
export function describeTarget(target: DatabaseTarget): string {
  if (target.kind === 'sqlite') return `sqlite:${target.path}`;
  try {
    const u = new URL(target.url);
    return `postgres://${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'postgres://(unparseable)';
  }
}
