// A real OCI registry (Debian's docker-registry) on a free loopback port, for tests.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface TestRegistry {
  host: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export async function startRegistry(auth?: {
  user: string;
  password: string;
}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-registry-'));
  const port = await freePort();
  let authCfg = '';
  if (auth) {
    const r = spawnSync('htpasswd', ['-Bbn', auth.user, auth.password], { encoding: 'utf8' });
    if (r.status !== 0)
      throw new Error(`htpasswd failed (apt-get install apache2-utils): ${r.stderr}`);
    writeFileSync(join(dir, 'htpasswd'), r.stdout);
    authCfg = `auth:\n  htpasswd:\n    realm: gantry-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nlog: { level: error }\nstorage:\n  filesystem: { rootdirectory: ${join(dir, 'data')} }\nhttp:\n  addr: 127.0.0.1:${port}\n${authCfg}`,
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: 'ignore',
  });
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://${host}/v2/`).then(
      (r) => r.status === 200 || r.status === 401,
      () => false,
    );
    if (ok) break;
    await sleep(100);
  }
  return {
    host,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
