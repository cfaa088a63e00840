import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteUserRepository } from '../../src/db/sqlite.js';
import { defineHttpSuite } from './http-suite.js';

defineHttpSuite('HTTP API on SQLite in memory', () =>
  Promise.resolve({
    repository: new SqliteUserRepository(':memory:'),
    cleanup: () => Promise.resolve(),
  }),
);

defineHttpSuite('HTTP API on SQLite in a temp file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'user-service-'));
  return Promise.resolve({
    repository: new SqliteUserRepository(join(dir, 'users.db')),
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  });
});
