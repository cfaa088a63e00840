// A spec whose strings YAML 1.1 readers (Go's yaml.v2 in kubectl and Helm,
// PyYAML) or YAML 1.2 readers would read as something else when unquoted:
// booleans, nulls, numbers, timestamps, merge keys, padded strings, and
// characters YAML 1.1 takes for line breaks. Every value is one the
// Kubernetes API accepts in its field.
import { parseSpec } from '../../src/spec/index.js';
import type { ServiceSpec } from '../../src/spec/index.js';

/** Strings of the spec below that must never be written plain. */
export const ADVERSARIAL = [
  ...['yes', 'no', 'off', 'on', 'y', 'n', 'NO', 'True', 'NULL', '~', ''],
  ...['1_000', '0777', '0o17', '0x1F', '1e3', '1.5', '1:20', '2001-12-14', '.nan', '=', '<<'],
];

export const ADVERSARIAL_SPEC = `apiVersion: gantry.dev/v1alpha1
name: "yes"
namespace: "off"
labels: { tier: "no", "on": "y", "y": "1_000", stamp: "2001-12-14", oct: "0777", t: "True", e: "1e3" }
image: reg.local/shop/api:1_000
command: ["/bin/api", "yes", "~", "="]
args: ["<<", "1_000", "0o17", "1:20", " padded ", ""]
ports:
  - { name: "yes", containerPort: 8080, servicePort: 80 }
  - { name: "on", containerPort: 9000 }
env:
  NO: "no"
  Y: "y"
  "ON": "1_000"
  "TRUE": "~"
  EQ: "="
  MERGE: "<<"
  HEX: "0x1F"
  OCT: "0777"
  OCT2: "0o17"
  SEXA: "1:20"
  DATE: "2001-12-14"
  NAN: ".nan"
  EMPTY: ""
  NULLS: "NULL"
  PAD: " padded "
  TAB: "a\\tb"
  LS: "a\\u2028b"
  NEL: "a\\u0085b"
  FLOAT: "1.5"
config:
  "yes": "off"
  "1_000": "1_000"
  "0777": "0777"
  ".nan": ".nan"
  "2001-12-14": "2001-12-14"
  "n": "<<"
  "eq": "="
  "multi": "on: no\\n1_000\\n"
secrets: { "on": { fromEnv: SECRET_ON }, "1e3": { fromEnv: SECRET_1E3 } }
resources: { requests: { cpu: "0.5", memory: 64Mi }, limits: { cpu: "1", memory: 128Mi } }
probes:
  liveness: { path: /no }
  readiness: { path: /yes, port: "yes" }
  startup: { path: /on, port: "on" }
rollingUpdate: { maxSurge: 25%, maxUnavailable: 0 }
disruptionBudget: { minAvailable: 1 }
routes:
  - hostnames: ["yes", "on.no"]
    gateway: "off/no"
    matches: [{ path: /y, pathType: Exact }]
  - { hostnames: ["n"], gateway: "on", port: "on" }
metrics: { port: "on", path: /off }
networkPolicy: { allowFrom: [{ namespace: "y" }, { podLabels: { app: "no", "yes": "NULL" } }] }
`;

export function adversarialSpec(): ServiceSpec {
  return parseSpec(ADVERSARIAL_SPEC);
}
