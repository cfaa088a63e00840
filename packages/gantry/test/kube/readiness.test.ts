import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { deploymentRollout, podProblem, podReady } from '../../src/kube/readiness.js';

function deployment(
  status: V1Deployment['status'],
  opts: { generation?: number; replicas?: number } = {},
): V1Deployment {
  return {
    metadata: { name: 'd', generation: opts.generation ?? 2 },
    spec: { replicas: opts.replicas ?? 3, selector: {}, template: {} },
    status,
  };
}

test('a rollout is not done before the controller observes the new generation', () => {
  const d = deployment({
    observedGeneration: 1,
    replicas: 3,
    updatedReplicas: 3,
    availableReplicas: 3,
  });
  assert.equal(deploymentRollout(d).phase, 'progressing');
});

test('rollout phases follow kubectl rollout status', () => {
  const base = { observedGeneration: 2 };
  assert.deepEqual(deploymentRollout(deployment({ ...base, replicas: 3, updatedReplicas: 1 })), {
    phase: 'progressing',
    message: '1 of 3 replicas updated',
  });
  assert.deepEqual(
    deploymentRollout(
      deployment({ ...base, replicas: 4, updatedReplicas: 3, availableReplicas: 3 }),
    ),
    { phase: 'progressing', message: '1 old replicas pending termination' },
  );
  assert.deepEqual(
    deploymentRollout(
      deployment({ ...base, replicas: 3, updatedReplicas: 3, availableReplicas: 2 }),
    ),
    { phase: 'progressing', message: '2 of 3 updated replicas available' },
  );
  assert.equal(
    deploymentRollout(
      deployment({ ...base, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }),
    ).phase,
    'done',
  );
  assert.equal(deploymentRollout(deployment({ ...base }, { replicas: 0 })).phase, 'done');
});

test('ProgressDeadlineExceeded fails the rollout', () => {
  const r = deploymentRollout(
    deployment({
      observedGeneration: 2,
      conditions: [
        {
          type: 'Progressing',
          status: 'False',
          reason: 'ProgressDeadlineExceeded',
          message: 'ReplicaSet "d-1" has timed out progressing.',
        },
      ],
    }),
  );
  assert.deepEqual(r, {
    phase: 'failed',
    reason: 'ProgressDeadlineExceeded',
    message: 'ReplicaSet "d-1" has timed out progressing.',
  });
});

const pod = (status: V1Pod['status'], deleting = false): V1Pod => ({
  metadata: { name: 'p', ...(deleting ? { deletionTimestamp: new Date() } : {}) },
  status,
});

test('fatal waiting reasons are pod problems; ordinary waiting is not', () => {
  const waiting = (reason: string, message?: string): V1Pod['status'] => ({
    containerStatuses: [
      {
        name: 'app',
        image: 'x',
        imageID: '',
        ready: false,
        restartCount: 0,
        state: { waiting: { reason, ...(message ? { message } : {}) } },
      },
    ],
  });
  assert.deepEqual(podProblem(pod(waiting('ImagePullBackOff', 'Back-off pulling image "x"'))), {
    pod: 'p',
    container: 'app',
    reason: 'ImagePullBackOff',
    message: 'Back-off pulling image "x"',
  });
  assert.equal(podProblem(pod(waiting('ContainerCreating'))), undefined);
  assert.equal(
    podProblem(pod(waiting('CrashLoopBackOff'), true)),
    undefined,
    'terminating pods are ignored',
  );
});

test('repeated crashes count before the kubelet backs off', () => {
  const crashed = pod({
    containerStatuses: [
      {
        name: 'app',
        image: 'x',
        imageID: '',
        ready: false,
        restartCount: 2,
        state: { running: {} },
        lastState: { terminated: { exitCode: 3, reason: 'Error' } },
      },
    ],
  });
  assert.match(podProblem(crashed)!.message, /exited with code 3 \(Error\), restarted 2 times/);
});

test('unschedulable pods and readiness', () => {
  const p = pod({
    conditions: [
      {
        type: 'PodScheduled',
        status: 'False',
        reason: 'Unschedulable',
        message: '0/1 nodes are available: 1 Insufficient cpu.',
      },
    ],
  });
  assert.deepEqual(podProblem(p), {
    pod: 'p',
    reason: 'Unschedulable',
    message: '0/1 nodes are available: 1 Insufficient cpu.',
  });
  assert.equal(podReady(pod({ conditions: [{ type: 'Ready', status: 'True' }] })), true);
  assert.equal(podReady(pod({ conditions: [{ type: 'Ready', status: 'False' }] })), false);
});
