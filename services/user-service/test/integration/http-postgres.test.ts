import { PostgresUserRepository } from '../../src/db/postgres.js';
import { createSchema, postgresSkip } from '../helpers/pg.js';
import { defineHttpSuite } from './http-suite.js';

defineHttpSuite(
  'HTTP API on PostgreSQL',
  async () => {
    const schema = await createSchema('http');
    return {
      repository: await PostgresUserRepository.open(schema.url),
      cleanup: () => schema.drop(),
    };
  },
  { skip: postgresSkip() },
);
