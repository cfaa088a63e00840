// A pod that gets the address of a pod deleted a moment before is reachable
// from the host at once. host-local IPAM reuses addresses (round-robin over
// the node's /24), and the host keeps a neighbour (ARP) entry for the dead
// pod's MAC for tens of seconds; the cluster's gantry-neigh CNI plugin drops
// that entry when the new pod is added. Without it, everything on the host
// (kubelet probes, Traefik, Prometheus, Service IPs) loses packets to the new
// pod for 5-15 s.
//
// The test makes the reuse happen on purpose: it sets host-local's
// last-reserved address to just below the deleted pod's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { eventually, kubectl, pushEchoImage, requireCluster, run } from './cluster-env.js';
import type { ClusterEnv } from './cluster-env.js';

const cluster = requireCluster();

function pod(name: string, image: string): string {
  return `
apiVersion: v1
kind: Pod
metadata: { name: ${name} }
spec:
  terminationGracePeriodSeconds: 0
  securityContext: { runAsNonRoot: true, seccompProfile: { type: RuntimeDefault } }
  containers:
    - name: echo
      image: ${image}
      env: [{ name: NAME, value: ${name} }]
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: { drop: [ALL] }
`;
}

/** The pod's name as its echo server answers it, within `ms`. */
async function answer(ip: string, ms: number): Promise<string> {
  try {
    const res = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(ms) });
    return (await res.text()).trim();
  } catch (err) {
    throw new Error(`no answer from ${ip}:8080 in ${ms} ms (${String(err)})`);
  }
}

test(
  'a pod on a reused address answers the host at once',
  { skip: typeof cluster === 'string' ? cluster : false, timeout: 180_000 },
  async (t) => {
    const env = cluster as ClusterEnv;
    const ns = `pod-address-${process.pid}`;
    // The cluster's state directory holds the admin kubeconfig and the IPAM store.
    const ipam = join(dirname(env.KUBECONFIG), 'cni', 'ipam', 'gantry');
    assert.ok(existsSync(ipam), `no host-local IPAM store at ${ipam}`);
    t.after(() => {
      run('kubectl', ['delete', 'namespace', ns, '--wait=false'], env);
    });
    const image = pushEchoImage(env, 'pod-address/echo');
    kubectl(env, ['create', 'namespace', ns]);

    const start = (name: string): string => {
      kubectl(env, ['-n', ns, 'apply', '-f', '-'], pod(name, image));
      kubectl(env, ['-n', ns, 'wait', '--for=condition=Ready', `pod/${name}`, '--timeout=90s']);
      return kubectl(env, ['-n', ns, 'get', 'pod', name, '-o', 'jsonpath={.status.podIP}']).trim();
    };

    // Another test's pods may take the address first; a few tries, then give up.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const first = `first-${attempt}`;
      const second = `second-${attempt}`;
      const ip = start(first);
      assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
      // The host talks to it, so it has a fresh neighbour entry for its MAC.
      assert.equal(await answer(ip, 5000), first);

      kubectl(env, ['-n', ns, 'delete', 'pod', first, '--grace-period=0', '--force']);
      await eventually(`host-local to release ${ip}`, 60_000, () =>
        existsSync(join(ipam, ip)) ? undefined : true,
      );
      const octets = ip.split('.').map(Number);
      octets[3] = octets[3]! - 1;
      writeFileSync(join(ipam, 'last_reserved_ip.0'), octets.join('.'));

      const reused = start(second);
      if (reused !== ip) {
        t.diagnostic(`attempt ${attempt}: ${second} got ${reused}, not ${ip}; trying again`);
        continue;
      }
      // 3 s is less than the 5 s a stale entry stays in use before it is probed.
      const t0 = Date.now();
      assert.equal(await answer(ip, 3000), second, `${second} on reused ${ip}`);
      t.diagnostic(`${second} on reused ${ip} answered in ${Date.now() - t0} ms`);
      return;
    }
    assert.fail('the address was never reused in 3 tries');
  },
);
