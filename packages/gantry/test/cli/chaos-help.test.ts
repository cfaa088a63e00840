// The examples `gantry chaos KIND --help` prints are commands a reader can copy: every fault
// kind has one, each flag is one of the kind's parameters, and its values parse as the
// command line would parse them (no VALUE placeholders, no out-of-range numbers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAULT_EXAMPLES } from '../../src/cli/commands/chaos/faults.js';
import { faults } from '../../src/chaos/faults/index.js';
import { parseFaultParams } from '../../src/chaos/experiment/params.js';

/** Splits flags as a shell would, for the double quotes the examples use. */
function words(s: string): string[] {
  return [...s.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

test('every fault kind has a --help example whose flags parse', () => {
  for (const def of faults) {
    if (def.kind === 'pod-kill') continue; // its own command, with rounds
    const example = FAULT_EXAMPLES[def.kind];
    assert.ok(example !== undefined, `${def.kind} has an example`);
    const w = words(example);
    const raw: Record<string, unknown> = {};
    for (let i = 0; i < w.length; i++) {
      const flag = w[i]!;
      assert.ok(flag.startsWith('--'), `${def.kind}: ${flag} is a flag`);
      const name = flag.slice(2);
      const p = def.params.find((x) => x.name === name);
      assert.ok(p, `${def.kind}: --${name} is one of its parameters`);
      if (p.type === 'boolean') raw[name] = true;
      else raw[name] = w[++i];
    }
    const { problems } = parseFaultParams(def, raw);
    assert.deepEqual(problems, [], `${def.kind} ${example}`);
    for (const p of def.params)
      if (p.required) assert.ok(p.name in raw, `${def.kind}: required --${p.name} is shown`);
  }
});

test('the examples cover exactly the registered kinds', () => {
  const kinds = faults.map((f) => f.kind).filter((k) => k !== 'pod-kill');
  assert.deepEqual(Object.keys(FAULT_EXAMPLES).sort(), [...kinds].sort());
});
