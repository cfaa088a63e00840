// The storage contract for users. Two backends implement it: SQLite (src/db/sqlite.ts) and
// PostgreSQL (src/db/postgres.ts). Backends only speak storage; HTTP meaning lives elsewhere.

export interface User {
  readonly id: number;
  readonly name: string;
  readonly email: string;
  /** ISO 8601 timestamps. */
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface NewUser {
  readonly name: string;
  readonly email: string;
}

export interface UserChanges {
  readonly name?: string;
  readonly email?: string;
}

export interface ListOptions {
  /** Return users with id greater than this (keyset pagination); undefined = from the start. */
  readonly afterId: number | undefined;
  readonly limit: number;
}

/** Thrown by a backend when a write breaks a unique constraint (the email). */
export class UniqueViolationError extends Error {
  constructor(readonly constraint: string) {
    super(`unique constraint violated: ${constraint}`);
    this.name = 'UniqueViolationError';
  }
}

export interface UserRepository {
  readonly kind: 'sqlite' | 'postgres';
  create(user: NewUser): Promise<User>;
  get(id: number): Promise<User | undefined>;
  /** Ordered by id ascending. */
  list(opts: ListOptions): Promise<User[]>;
  update(id: number, changes: UserChanges): Promise<User | undefined>;
  delete(id: number): Promise<boolean>;
  /** A cheap round trip proving the database answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The key emails are unique by: case-insensitive, computed the same way for every backend. */
export function emailKey(email: string): string {
  return email.toLowerCase();
}
