// Worker for migrations.test.ts: waits on a shared gate, then opens the repository.
// Plain JS, loading the TypeScript source through tsx's API (workers don't inherit --import).
import { parentPort, workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const { SqliteUserRepository } = await tsImport('../../src/db/sqlite.ts', import.meta.url);
const { file, gate } = workerData;
parentPort.postMessage('ready');
Atomics.wait(new Int32Array(gate), 0, 0);
const repo = new SqliteUserRepository(file);
parentPort.postMessage(repo.migration.applied);
await repo.close();
