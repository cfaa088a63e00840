// The order in which several services are deployed together: each service after
// the ones it names in `dependsOn`. Unknown names, a service named twice and
// dependency cycles are refused before anything is applied, each problem at the
// dependsOn entry (file:line:col) that causes it.
import { closest, quote } from '../spec/errors.js';
import { SpecError } from '../spec/errors.js';
import type { SpecProblem } from '../spec/errors.js';
import type { ServiceSpec } from '../spec/index.js';
import { locateProblems } from '../validate/spec-source.js';

export interface FleetMember {
  file: string;
  spec: ServiceSpec;
}

export interface FleetPlan {
  members: FleetMember[];
  /** For each member (by key NAMESPACE/NAME), the keys it waits for. */
  deps: Map<string, string[]>;
}

export const memberKey = (s: Pick<ServiceSpec, 'namespace' | 'name'>) => `${s.namespace}/${s.name}`;

export function planFleet(members: readonly FleetMember[]): FleetPlan {
  const problems: SpecProblem[] = [];
  const byKey = new Map<string, FleetMember>();
  for (const m of members) {
    const key = memberKey(m.spec);
    const other = byKey.get(key);
    if (other) {
      problems.push(
        ...locateProblems(
          m.spec,
          [{ path: ['name'], message: `${key} is also defined in ${other.file}` }],
          m.file,
        ),
      );
      continue;
    }
    byKey.set(key, m);
  }
  const deps = new Map<string, string[]>();
  for (const m of byKey.values()) {
    const list: string[] = [];
    m.spec.dependsOn.forEach((ref, i) => {
      const key = ref.includes('/') ? ref : `${m.spec.namespace}/${ref}`;
      if (key === memberKey(m.spec)) {
        problems.push(...at(m, i, 'a service cannot depend on itself'));
      } else if (!byKey.has(key)) {
        const hint = closest(key, [...byKey.keys()]);
        problems.push(
          ...at(
            m,
            i,
            `no service ${quote(key)} among the specs given${hint ? ` (did you mean "${hint}"?)` : ` (services: ${[...byKey.keys()].join(', ')})`}`,
          ),
        );
      } else list.push(key);
    });
    deps.set(memberKey(m.spec), list);
  }
  for (const cycle of findCycles(deps)) {
    const first = byKey.get(cycle[0]!)!;
    const i = first.spec.dependsOn.findIndex(
      (ref) => (ref.includes('/') ? ref : `${first.spec.namespace}/${ref}`) === cycle[1],
    );
    problems.push(...at(first, i, `dependency cycle: ${[...cycle].join(' → ')}`));
  }
  if (problems.length) throw new SpecError(problems);
  return { members: [...byKey.values()], deps };
}

function at(m: FleetMember, index: number, message: string): SpecProblem[] {
  return locateProblems(m.spec, [{ path: ['dependsOn', index], message }], m.file);
}

/** Each cycle once, as a closed path [a, b, ..., a], starting at its smallest key. */
export function findCycles(deps: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (k: string) => {
    state.set(k, 'open');
    stack.push(k);
    for (const d of deps.get(k) ?? []) {
      if (state.get(d) === 'open') {
        const loop = stack.slice(stack.indexOf(d));
        const start = loop.indexOf([...loop].sort()[0]!);
        const rotated = [...loop.slice(start), ...loop.slice(0, start)];
        const id = rotated.join('|');
        if (!seen.has(id)) {
          seen.add(id);
          cycles.push([...rotated, rotated[0]!]);
        }
      } else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(k, 'done');
  };
  for (const k of [...deps.keys()].sort()) if (!state.has(k)) visit(k);
  return cycles;
}
