// The chaos agent: the program of the helper pod (node: built-ins only).
//
//   main.js node RECORD      apply the record's node ops here, report 'injected', wait for
//                            expiresAt or SIGTERM/SIGINT, revert every op, delete the record
//   main.js revert RECORD    revert whatever of the record's ops is left, delete the record
//   main.js watchdog RECORD  Kubernetes-level faults: at expiresAt (or on SIGTERM while the
//                            record is still there) apply its restoring patches, delete it
//   main.js standby POD      a helper started ahead of any fault: waits (up to
//                            STANDBY_IDLE_SECONDS) for a record labelled with its pod's name
//                            (gantry.dev/chaos-standby), then is its `node` helper (node
//                            ops) or its `watchdog` (Kubernetes patches only)
//   main.js proxy JSON       the delay/HTTP proxy (proxy.ts), started by ops inside a netns
//   main.js check OPS-JSON   only the ops' checks (preflight), printed as JSON
//
// Environment: CHAOS_NAMESPACE (where the record is), NODE_NAME. Exit 0 when the
// record is gone at the end (everything reverted), 1 when something could not be
// reverted (the record stays for `gantry chaos recover`), 2 when the ops were
// refused by their checks (nothing touched; the reasons under `refused` in the record).
import { Api } from './api.js';
import { killChildren, log, opContext } from './context.js';
import type { AgentOp, OpTarget } from './op.js';
import { opByName } from './ops/index.js';
import { runProxy } from './proxy.js';
import type { ProxyConfig } from './proxy.js';
import { recordFromConfigMap, recordPath } from './record.js';
import type { RecordConfigMap } from './record.js';
import { resolveTarget } from './target.js';
import type { NodeUndo, UndoRecord } from '../undo.js';

const NS = process.env.CHAOS_NAMESPACE ?? 'gantry-chaos';

let stopping = false;
let wake: () => void = () => undefined;
let cancelWatch: () => void = () => undefined;
const onSignal = (sig: string) => {
  if (!stopping) log(`${sig}: ending`);
  stopping = true;
  wake();
  cancelWatch();
};

async function readRecord(api: Api, id: string): Promise<UndoRecord | undefined> {
  const cm = await api.retry('read the undo record', () =>
    api.json<RecordConfigMap>('GET', recordPath(NS, id)),
  );
  return cm ? recordFromConfigMap(cm) : undefined;
}

async function patchRecord(api: Api, id: string, data: Record<string, string>) {
  await api.retry('update the undo record', () =>
    api.json('PATCH', recordPath(NS, id), { data }, 'application/merge-patch+json'),
  );
}

async function deleteRecord(api: Api, id: string) {
  await api.retry('delete the undo record', () => api.json('DELETE', recordPath(NS, id)));
}

/** Sleeps until `until` or a signal. */
async function waitUntil(until: number): Promise<void> {
  while (!stopping && Date.now() < until) {
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, Math.min(until - Date.now(), 60_000));
    });
  }
}

/** Container ids (without runtime://) of the record's pods, by pod uid and container name. */
async function containerIds(api: Api, rec: UndoRecord): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const wanted = rec.node?.ops.filter((o) => o.container) ?? [];
  if (wanted.length === 0) return out;
  try {
    const node = process.env.NODE_NAME ?? rec.node?.name ?? '';
    const list = await api.json<{
      items: {
        metadata: { uid: string };
        status?: { containerStatuses?: { name: string; containerID?: string }[] };
      }[];
    }>(
      'GET',
      `/api/v1/namespaces/${rec.namespace}/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`,
    );
    for (const p of list?.items ?? [])
      for (const c of p.status?.containerStatuses ?? [])
        if (c.containerID)
          out.set(`${p.metadata.uid}/${c.name}`, c.containerID.replace(/^[a-z]+:\/\//, ''));
  } catch (err) {
    log(`cannot read the pods' container ids: ${(err as Error).message}`);
  }
  return out;
}

interface Resolved {
  undo: NodeUndo;
  op: AgentOp;
  target: OpTarget | undefined;
}

async function resolveAll(api: Api, rec: UndoRecord): Promise<Resolved[]> {
  const ids = await containerIds(api, rec);
  return (rec.node?.ops ?? []).map((undo) => {
    const op = opByName(undo.op);
    if (!op) throw new Error(`op ${undo.op}: this agent does not know it (helper image too old?)`);
    const cid = undo.container ? ids.get(`${undo.podUid}/${undo.container}`) : undefined;
    return { undo, op, target: resolveTarget(undo.podUid, cid) };
  });
}

/** Reverts every op, last first, each retried a few times; true when all are back. */
async function revertAll(api: Api, rec: UndoRecord): Promise<boolean> {
  let ok = true;
  const ops = (await resolveAll(api, rec)).reverse();
  for (const r of ops) {
    let done = false;
    for (let attempt = 1; attempt <= 3 && !done; attempt++) {
      try {
        await r.op.revert(opContext, r.target, r.undo.args);
        done = true;
      } catch (err) {
        log(`revert ${r.undo.op} (attempt ${attempt}): ${(err as Error).message}`);
        await new Promise((res) => setTimeout(res, 300 * attempt));
      }
    }
    if (done) log(`reverted ${r.undo.op} on pod ${r.undo.podUid}`);
    ok &&= done;
  }
  await killChildren();
  return ok;
}

async function nodeMode(api: Api, id: string): Promise<number> {
  const rec = await readRecord(api, id);
  if (!rec) {
    log(`record ${id} is gone: nothing to do`);
    return 0;
  }
  const resolved = await resolveAll(api, rec);
  const reasons: string[] = [];
  for (const r of resolved) {
    if (!r.target) {
      reasons.push(`pod ${r.undo.podUid}: no process of it runs on this node`);
      continue;
    }
    if (r.undo.container && r.target.containerPid === undefined)
      reasons.push(`pod ${r.undo.podUid}: container ${r.undo.container} is not running`);
    for (const why of await r.op.check(opContext, r.target, r.undo.args))
      reasons.push(`${r.undo.op}: ${why}`);
  }
  if (reasons.length) {
    for (const why of reasons) log(`refused: ${why}`);
    // Nothing was touched. The record stays, with the reasons, for the injector to read
    // and delete (or recover(), whose revert of it has nothing to do).
    await patchRecord(api, id, { refused: reasons.join('; ') });
    return 2;
  }
  const duration = Date.parse(rec.expiresAt) - Date.parse(rec.createdAt);
  try {
    for (const r of resolved) {
      await r.op.apply(opContext, r.target!, r.undo.args);
      log(`applied ${r.undo.op} on pod ${r.undo.podUid}`);
    }
    // The fault lasts its full duration from the moment it is in effect.
    const expires = new Date(Date.now() + duration).toISOString();
    await patchRecord(api, id, { state: 'injected', expiresAt: expires });
    log(`in effect until ${expires}`);
    await waitUntil(Date.parse(expires));
  } catch (err) {
    log(`apply failed: ${(err as Error).message}`);
    await patchRecord(api, id, { error: (err as Error).message }).catch(() => undefined);
  }
  await patchRecord(api, id, { state: 'reverting' }).catch(() => undefined);
  if (!(await revertAll(api, rec))) return 1;
  await deleteRecord(api, id);
  log('reverted; record deleted');
  return 0;
}

/** The label a claimed record carries (helper/resources.ts STANDBY_LABEL). */
const STANDBY_LABEL = 'gantry.dev/chaos-standby';

async function standbyMode(api: Api, pod: string): Promise<number> {
  const idle = Number(process.env.STANDBY_IDLE_SECONDS ?? 600) * 1000;
  const deadline = Date.now() + idle;
  log(`standby ${pod}: waiting up to ${idle / 1000} s for a fault`);
  while (!stopping && Date.now() < deadline) {
    const w = api.watchFirst(
      `/api/v1/namespaces/${NS}/configmaps`,
      `${STANDBY_LABEL}=${pod}`,
      Math.min(60, (deadline - Date.now()) / 1000),
    );
    cancelWatch = w.cancel;
    const id = await w.name;
    cancelWatch = () => undefined;
    if (id) {
      // A node fault's record lists node ops; a Kubernetes-level one only its patches.
      const rec = await readRecord(api, id);
      const mode = rec?.node ? 'node' : 'watchdog';
      log(`agent ${mode} ${id}: started (the standby ${pod} claimed)`);
      return mode === 'node' ? nodeMode(api, id) : watchdogMode(api, id);
    }
    if (!stopping) await new Promise((r) => setTimeout(r, 200));
  }
  log(`standby ${pod}: not claimed; exiting`);
  return 0;
}

async function revertMode(api: Api, id: string): Promise<number> {
  const rec = await readRecord(api, id);
  if (!rec) {
    log(`record ${id} is gone: nothing to do`);
    return 0;
  }
  await patchRecord(api, id, { state: 'reverting' }).catch(() => undefined);
  if (!(await revertAll(api, rec))) return 1;
  await deleteRecord(api, id);
  log('reverted; record deleted');
  return 0;
}

async function restore(api: Api, rec: UndoRecord): Promise<boolean> {
  let ok = true;
  for (const u of rec.k8s) {
    const what = `${u.kind} ${u.namespace ? `${u.namespace}/` : ''}${u.name}`;
    try {
      const path = await api.objectPath(u.apiVersion, u.kind, u.namespace, u.name);
      const obj = await api.json<{ metadata?: { uid?: string } }>('GET', path);
      if (!obj) {
        log(`${what}: gone, nothing to restore`);
        continue;
      }
      if (u.uid && obj.metadata?.uid !== u.uid) {
        log(`${what}: replaced since the fault began (uid changed), left as it is`);
        continue;
      }
      const type =
        u.patchType === 'strategic'
          ? 'application/strategic-merge-patch+json'
          : 'application/merge-patch+json';
      await api.retry(`restore ${what}`, () => api.json('PATCH', path, u.restore, type));
      log(`${what}: restored`);
    } catch (err) {
      ok = false;
      log(`${what}: ${(err as Error).message}`);
    }
  }
  return ok;
}

async function watchdogMode(api: Api, id: string): Promise<number> {
  let rec = await readRecord(api, id);
  if (!rec) return 0;
  // The fault's time starts once the injector has applied it ('injected', with the real
  // expiry). Still 'planned' long after it began: its injector died mid-way; restore.
  const duration = Date.parse(rec.expiresAt) - Date.parse(rec.createdAt);
  const plannedLimit = Date.parse(rec.createdAt) + 90_000 + duration;
  while (!stopping && rec.state === 'planned' && Date.now() < plannedLimit) {
    await waitUntil(Date.now() + 300);
    rec = await readRecord(api, id);
    if (!rec) return 0;
  }
  await waitUntil(Date.parse(rec.expiresAt));
  // Ended by the CLI (revert): it restored the objects and deleted the record.
  const now = await readRecord(api, id);
  if (!now) {
    log('record gone: restored by whoever ended the fault');
    return 0;
  }
  await patchRecord(api, id, { state: 'reverting' }).catch(() => undefined);
  if (!(await restore(api, now))) return 1;
  await deleteRecord(api, id);
  log('restored; record deleted');
  return 0;
}

async function checkMode(opsJson: string): Promise<number> {
  const ops = JSON.parse(opsJson) as NodeUndo[];
  const reasons: string[] = [];
  for (const u of ops) {
    const op = opByName(u.op);
    if (!op) {
      reasons.push(`${u.op}: unknown op`);
      continue;
    }
    const target = resolveTarget(u.podUid);
    if (!target) reasons.push(`pod ${u.podUid}: no process of it runs on this node`);
    else for (const why of await op.check(opContext, target, u.args)) reasons.push(why);
  }
  process.stdout.write(`${JSON.stringify({ reasons })}\n`);
  return 0;
}

async function main(): Promise<number> {
  const [mode, arg] = process.argv.slice(2);
  if (mode === 'proxy') {
    runProxy(JSON.parse(arg ?? '{}') as ProxyConfig);
    return -1;
  }
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  if (mode === 'check') return checkMode(arg ?? '[]');
  if (!arg) throw new Error(`usage: main.js node|revert|watchdog RECORD | standby POD`);
  // The first line: when the helper's program runs (bench/chaos splits the time to a
  // fault in effect by it: pod start, agent start, ops applied).
  log(`agent ${mode} ${arg}: started (${Math.round(process.uptime() * 1000)} ms after exec)`);
  const api = new Api();
  if (mode === 'node') return nodeMode(api, arg);
  if (mode === 'revert') return revertMode(api, arg);
  if (mode === 'standby') return standbyMode(api, arg);
  if (mode === 'watchdog') return watchdogMode(api, arg);
  throw new Error(`unknown mode ${mode}`);
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  async (err: unknown) => {
    log(`error: ${err instanceof Error ? err.message : String(err)}`);
    await killChildren();
    process.exit(1);
  },
);
