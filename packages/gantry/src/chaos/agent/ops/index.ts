// Every op the agent can apply and revert, by name (NodeUndo.op). One file per
// family; a fault's NodeUndo names one of these.
import type { AgentOp } from '../op.js';
import { dnsOps } from './dns.js';
import { httpOps } from './http.js';
import { networkOps } from './network.js';
import { processOps } from './process.js';
import { stressOps } from './stress.js';

export const agentOps: readonly AgentOp[] = [
  ...networkOps,
  ...httpOps,
  ...processOps,
  ...stressOps,
  ...dnsOps,
];

export function opByName(name: string): AgentOp | undefined {
  return agentOps.find((o) => o.name === name);
}
