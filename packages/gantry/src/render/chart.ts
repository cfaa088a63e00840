// Helm chart export: a spec -> a Helm v3 chart whose templates render exactly
// the objects renderService renders, for the chart's default values.
//
// The templates are not a second copy of the rendering rules. Each object is
// rendered by renderService, then the fields a Helm user overrides are
// replaced, at known paths, by references to .Values (whose defaults are the
// rendered values themselves); everything else stays literal. A change to the
// renderer therefore changes the chart with it, and the generator checks its
// assumptions about the rendered objects (labels, selectors, the autoscaling
// variant) and throws when they stop holding.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { ServiceSpec } from '../spec/index.js';
import { TRACK_LABEL, commonLabels, selectorLabels, trackSelector } from './labels.js';
import { ANNOTATION_CONFIG_HASH, renderService } from './objects.js';
import type { KubeObject, RenderOptions } from './objects.js';
import { doubleQuoted, stringifyYaml } from './yaml.js';

export interface ChartOptions {
  /** Image to run (repository plus optional tag and/or digest). Default: spec.image. */
  image?: string;
  /** Chart version (SemVer 2). Default 0.1.0. */
  chartVersion?: string;
  /** Chart appVersion, also the app.kubernetes.io/version label. Default: the image tag. */
  appVersion?: string;
}

export interface ChartFile {
  /** Path inside the chart directory, e.g. "templates/deployment.yaml". */
  path: string;
  content: string;
}

export interface HelmChart {
  name: string;
  version: string;
  appVersion?: string;
  /** The default values (what values.yaml holds). */
  values: Record<string, unknown>;
  files: ChartFile[];
  /**
   * Options under which renderService renders what the chart renders with its
   * default values (add secretValues for the values given at install).
   */
  renderOptions: RenderOptions;
}

export const DEFAULT_CHART_VERSION = '0.1.0';

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

export function isChartVersion(v: string): boolean {
  return SEMVER.test(v);
}

/**
 * Splits an image reference, as written, into repository (with its registry),
 * tag and digest ("" when absent). Unlike image/ref.ts it does not normalise:
 * the chart must reproduce the reference exactly.
 */
export function splitImageRef(ref: string): { repository: string; tag: string; digest: string } {
  const at = ref.indexOf('@');
  const name = at >= 0 ? ref.slice(0, at) : ref;
  const digest = at >= 0 ? ref.slice(at + 1) : '';
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    return { repository: name.slice(0, colon), tag: name.slice(colon + 1), digest };
  }
  return { repository: name, tag: '', digest };
}

type Obj = Record<string, unknown>;

/** The object at `path` under `o`; throws when the rendered shape is not what the chart expects. */
function node(o: unknown, ...path: (string | number)[]): Obj {
  let cur = o;
  for (const p of path) cur = (cur as Obj | undefined)?.[p as string];
  if (cur === null || typeof cur !== 'object') {
    throw new Error(`chart: rendered object has no ${path.join('.')}`);
  }
  return cur as Obj;
}

function nodes(o: unknown, ...path: (string | number)[]): Obj[] {
  const l = node(o, ...path);
  if (!Array.isArray(l)) throw new Error(`chart: ${path.join('.')} is not a list`);
  return l as Obj[];
}

const MARKER = 'GANTRYTPL';
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A reference to a value, e.g. `.Values.image.tag` or `(index .Values "service" "ports" "http")`. */
function valuesRef(path: readonly string[]): string {
  return path.every((p) => IDENT.test(p))
    ? `.Values.${path.join('.')}`
    : `(index .Values ${path.map((p) => JSON.stringify(p)).join(' ')})`;
}

/** Literal text in a template: `{{` must not start an action. */
function escapeTemplate(text: string): string {
  return text.split('{{').join('{{ "{{" }}');
}

interface Substitution {
  /** Template expression (without the braces). */
  expr: string;
  /** Block: the expression yields YAML for the field's whole value (indented with nindent). */
  block: boolean;
  /** Emit the field's line only when this condition holds. */
  when?: string;
}

/** The values store and the marker-substitution machinery for one chart. */
class ChartBuilder {
  readonly values: Record<string, unknown> = {};
  private subs: Substitution[] = [];

  constructor(readonly name: string) {}

  /** Records a default value at a values path; a path bound twice must agree. */
  setValue(path: readonly string[], value: unknown): void {
    let at: Obj = this.values;
    for (const p of path.slice(0, -1)) {
      at[p] ??= {};
      at = at[p] as Obj;
    }
    const last = path[path.length - 1]!;
    if (last in at && !isDeepStrictEqual(at[last], value)) {
      throw new Error(
        `chart: values.${path.join('.')} bound to ${JSON.stringify(at[last])} and ${JSON.stringify(value)}`,
      );
    }
    at[last] = value;
  }

  private mark(obj: Obj, key: string, sub: Substitution): void {
    if (!(key in obj)) throw new Error(`chart: no field "${key}" to template`);
    obj[key] = `${MARKER}${this.subs.length}X`;
    this.subs.push(sub);
  }

  /** Replaces obj[key] by the value at `path`, whose default is the rendered value. */
  leaf(obj: Obj, key: string, path: readonly string[], when?: string): void {
    this.setValue(path, obj[key]);
    this.mark(obj, key, {
      expr: `${valuesRef(path)} | toJson`,
      block: false,
      ...(when ? { when } : {}),
    });
  }

  inline(obj: Obj, key: string, expr: string): void {
    this.mark(obj, key, { expr, block: false });
  }

  block(obj: Obj, key: string, expr: string): void {
    this.mark(obj, key, { expr, block: true });
  }

  include(helper: string): string {
    return `include "${this.name}.${helper}" .`;
  }

  /** YAML for a marked object, with each marker turned into its template expression. */
  template(o: KubeObject): string {
    const text = escapeTemplate(stringifyYaml(o));
    const out: string[] = [];
    for (const line of text.replace(/\n$/, '').split('\n')) {
      const m = new RegExp(`${MARKER}(\\d+)X`).exec(line);
      if (!m) {
        out.push(line);
        continue;
      }
      const sub = this.subs[Number(m[1])]!;
      if (sub.block) {
        const km = new RegExp(`^(\\s*(?:- )*)(\\S.*):\\s+${MARKER}\\d+X$`).exec(line);
        if (!km) throw new Error(`chart: cannot place a block at "${line}"`);
        const indent = km[1]!.length + 2;
        out.push(
          `${km[1]}${km[2]}:`,
          `${' '.repeat(indent)}{{- ${sub.expr} | nindent ${indent} }}`,
        );
        continue;
      }
      const replaced = line.replace(m[0], `{{ ${sub.expr} }}`);
      if (sub.when) {
        const pad = /^\s*/.exec(line)![0];
        out.push(`${pad}{{- if ${sub.when} }}`, replaced, `${pad}{{- end }}`);
      } else out.push(replaced);
    }
    return out.join('\n') + '\n';
  }
}

/** Builds a Helm v3 chart for a spec. Pure: returns the files, writes nothing. */
export function renderChart(spec: ServiceSpec, opts: ChartOptions = {}): HelmChart {
  const image = opts.image ?? spec.image;
  const ref = splitImageRef(image);
  const appVersion = opts.appVersion ?? (ref.tag || undefined);
  const version = opts.chartVersion ?? DEFAULT_CHART_VERSION;
  if (!isChartVersion(version)) {
    throw new Error(`chart version "${version}" is not SemVer 2 (e.g. 0.1.0)`);
  }
  const renderOptions: RenderOptions = { image, ...(appVersion ? { version: appVersion } : {}) };
  // Placeholder secret values: the templates take them from .Values.secrets.
  const secretValues = Object.fromEntries(Object.keys(spec.secrets).map((k) => [k, '']));
  const render = (s: ServiceSpec) => renderService(s, { ...renderOptions, secretValues });

  // Two variants, so autoscaling can be switched either way at install:
  // `fixed` (Deployment.spec.replicas, no HPA) and `scaled` (an HPA).
  const min = Math.max(1, spec.replicas);
  const fixed = render({ ...spec, autoscaling: undefined });
  const scaled = render({
    ...spec,
    autoscaling: spec.autoscaling ?? {
      minReplicas: min,
      maxReplicas: Math.max(2, min * 2),
      targetCPUUtilizationPercentage: 80,
    },
  });
  const hpa = scaled.find((o) => o.kind === 'HorizontalPodAutoscaler');
  const dFixed = fixed.find((o) => o.kind === 'Deployment');
  const dScaled = scaled.find((o) => o.kind === 'Deployment');
  if (!hpa || !dFixed || !dScaled) throw new Error('chart: renderer gave no Deployment or HPA');
  const { replicas: _replicas, ...fixedSpec } = node(dFixed, 'spec');
  if (!isDeepStrictEqual(fixedSpec, dScaled.spec)) {
    throw new Error('chart: with autoscaling the Deployment differs by more than replicas');
  }

  const b = new ChartBuilder(spec.name);
  const labels = commonLabels(spec, appVersion);
  const selector = selectorLabels(spec);
  const expect = (what: string, actual: unknown, wanted: unknown) => {
    if (!isDeepStrictEqual(actual, wanted)) {
      throw new Error(`chart: ${what} is not what the chart's helpers produce`);
    }
  };
  const autoscalingEnabled = '.Values.autoscaling.enabled';
  b.setValue(['image'], { repository: ref.repository, tag: ref.tag, digest: ref.digest });
  b.setValue(['replicas'], spec.replicas);
  b.setValue(['autoscaling', 'enabled'], spec.autoscaling !== undefined);

  // The renderer's apply order, with the HPA where the autoscaled render puts it.
  const order = scaled.map((o) => `${o.kind}/${o.metadata.name}`);
  const at = (o: KubeObject) => order.indexOf(`${o.kind}/${o.metadata.name}`);
  const ordered = [...fixed, hpa].sort((x, y) => at(x) - at(y));

  const servicePortName = new Map<number, string>();
  if (spec.service.type !== 'None') {
    for (const p of spec.ports) servicePortName.set(p.servicePort ?? p.containerPort, p.name);
  }

  const docs: { file: string; text: string; when?: string }[] = [];
  for (const original of ordered) {
    const o = structuredClone(original);
    const meta = o.metadata as Obj;
    expect(`${o.kind} labels`, meta.labels, labels);
    b.inline(meta, 'namespace', '.Release.Namespace | toJson');
    b.block(meta, 'labels', b.include('labels'));
    let when: string | undefined;
    switch (o.kind) {
      case 'ConfigMap':
        b.setValue(['config'], o.data);
        b.block(o, 'data', b.include('configData'));
        break;
      case 'Secret': {
        b.setValue(['secrets'], {});
        const data = node(o, 'data');
        for (const key of Object.keys(data)) {
          b.inline(
            data,
            key,
            `include "${spec.name}.secretValue" (list . ${JSON.stringify(key)}) | b64enc | toJson`,
          );
        }
        break;
      }
      case 'Deployment': {
        const s = node(o, 'spec');
        b.leaf(s, 'replicas', ['replicas'], `not ${autoscalingEnabled}`);
        expect('Deployment selector', node(s, 'selector', 'matchLabels'), selector);
        b.block(node(s, 'selector'), 'matchLabels', b.include('selectorLabels'));
        const rolling = node(s, 'strategy', 'rollingUpdate');
        b.leaf(rolling, 'maxSurge', ['rollingUpdate', 'maxSurge']);
        b.leaf(rolling, 'maxUnavailable', ['rollingUpdate', 'maxUnavailable']);
        const podMeta = node(s, 'template', 'metadata');
        expect('pod labels', podMeta.labels, { ...labels, [TRACK_LABEL]: 'stable' });
        b.block(podMeta, 'labels', b.include('podLabels'));
        const annotations = node(podMeta, 'annotations');
        b.inline(annotations, ANNOTATION_CONFIG_HASH, `${b.include('configHash')} | toJson`);
        const c = node(s, 'template', 'spec', 'containers', 0);
        b.inline(c, 'image', `${b.include('image')} | toJson`);
        b.leaf(c, 'imagePullPolicy', ['image', 'pullPolicy']);
        b.setValue(['env'], spec.env);
        b.block(c, 'env', b.include('env'));
        b.setValue(['resources'], c.resources);
        b.block(c, 'resources', 'toYaml .Values.resources');
        for (const kind of ['liveness', 'readiness', 'startup']) {
          if (!c[`${kind}Probe`]) continue;
          const p = node(c, `${kind}Probe`);
          const get = node(p, 'httpGet');
          b.leaf(get, 'path', ['probes', kind, 'path']);
          b.leaf(get, 'port', ['probes', kind, 'port']);
          for (const f of Object.keys(p).filter((k) => k !== 'httpGet')) {
            b.leaf(p, f, ['probes', kind, f]);
          }
        }
        break;
      }
      case 'Service': {
        const s = node(o, 'spec');
        b.leaf(s, 'type', ['service', 'type']);
        expect('Service selector', s.selector, trackSelector(spec, 'stable'));
        b.block(s, 'selector', b.include('stableSelectorLabels'));
        for (const p of nodes(s, 'ports')) {
          b.leaf(p, 'port', ['service', 'ports', String(p.name)]);
          if ('nodePort' in p) b.leaf(p, 'nodePort', ['service', 'nodePorts', String(p.name)]);
        }
        break;
      }
      case 'HorizontalPodAutoscaler': {
        when = autoscalingEnabled;
        const s = node(o, 'spec');
        b.leaf(s, 'minReplicas', ['autoscaling', 'minReplicas']);
        b.leaf(s, 'maxReplicas', ['autoscaling', 'maxReplicas']);
        const target = node(s, 'metrics', 0, 'resource', 'target');
        b.leaf(target, 'averageUtilization', ['autoscaling', 'targetCPUUtilizationPercentage']);
        break;
      }
      case 'PodDisruptionBudget': {
        const s = node(o, 'spec');
        expect('PodDisruptionBudget selector', node(s, 'selector', 'matchLabels'), selector);
        b.block(node(s, 'selector'), 'matchLabels', b.include('selectorLabels'));
        for (const f of ['minAvailable', 'maxUnavailable']) {
          if (f in s) b.leaf(s, f, ['disruptionBudget', f]);
        }
        break;
      }
      case 'NetworkPolicy': {
        const podSelector = node(o, 'spec', 'podSelector');
        expect('NetworkPolicy pod selector', podSelector.matchLabels, selector);
        b.block(podSelector, 'matchLabels', b.include('selectorLabels'));
        break;
      }
      case 'HTTPRoute':
        for (const rule of nodes(o, 'spec', 'rules')) {
          for (const backend of nodes(rule, 'backendRefs')) {
            const name = servicePortName.get(backend.port as number);
            if (name) b.leaf(backend, 'port', ['service', 'ports', name]);
          }
        }
        break;
    }
    docs.push({
      file: templateFile(o.kind),
      text: b.template(o),
      ...(when ? { when } : {}),
    });
  }
  const header = `{{- /* Generated by gantry chart from the ${spec.name} spec: regenerate rather than edit. */}}\n`;
  const byFile = new Map<string, string[]>();
  for (const d of docs) {
    const text = d.when ? `{{- if ${d.when} }}\n${d.text}{{- end }}\n` : d.text;
    byFile.set(d.file, [...(byFile.get(d.file) ?? []), text]);
  }
  const templates: ChartFile[] = [...byFile].map(([file, texts]) => ({
    path: `templates/${file}`,
    content: header + texts.join('---\n'),
  }));

  const files: ChartFile[] = [
    { path: 'Chart.yaml', content: chartYaml(spec, version, appVersion) },
    { path: 'values.yaml', content: valuesYaml(spec, b.values) },
    { path: 'templates/_helpers.tpl', content: helpers(spec, appVersion) },
    ...templates,
  ];
  return {
    name: spec.name,
    version,
    ...(appVersion ? { appVersion } : {}),
    values: b.values,
    files,
    renderOptions,
  };
}

/**
 * Writes a chart to `dir`: a new or empty directory, or an earlier export
 * (one with a Chart.yaml), whose Chart.yaml, values.yaml and templates/ are
 * replaced. Other files there (a README, .helmignore) are kept.
 */
export function writeChart(chart: HelmChart, dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    if (!existsSync(join(dir, 'Chart.yaml'))) {
      throw new ChartDirError(`${dir} is not empty and holds no chart (no Chart.yaml)`);
    }
    rmSync(join(dir, 'templates'), { recursive: true, force: true });
  }
  for (const f of chart.files) {
    const path = join(dir, f.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.content);
  }
}

/** The output directory cannot take the chart. */
export class ChartDirError extends Error {
  override name = 'ChartDirError';
}

function templateFile(kind: string): string {
  const short: Record<string, string> = {
    HorizontalPodAutoscaler: 'hpa',
    PodDisruptionBudget: 'pdb',
  };
  return `${short[kind] ?? kind.toLowerCase()}.yaml`;
}

function chartYaml(spec: ServiceSpec, version: string, appVersion: string | undefined): string {
  return [
    'apiVersion: v2',
    stringifyYaml({ name: spec.name }).trimEnd(),
    `description: ${doubleQuoted(`${spec.name}, exported by gantry chart from its gantry.yaml`)}`,
    'type: application',
    `version: ${doubleQuoted(version)}`,
    ...(appVersion ? [`appVersion: ${doubleQuoted(appVersion)}`] : []),
    '',
  ].join('\n');
}

function valuesYaml(spec: ServiceSpec, values: Record<string, unknown>): string {
  const secretKeys = Object.keys(spec.secrets).sort();
  const sections: [key: string, comment: string[]][] = [
    ['image', ['Container image: repository, and an optional tag and/or digest.']],
    ['replicas', ['Pod count while autoscaling is off.']],
    [
      'autoscaling',
      [
        'HorizontalPodAutoscaler on CPU utilisation; when enabled it owns the pod count',
        '(replicas is ignored).',
      ],
    ],
    [
      'rollingUpdate',
      ['Rolling update: pods above the desired count, and pods that may be unavailable.'],
    ],
    ['env', ['Plain environment variables.']],
    [
      'config',
      [
        `Non-secret configuration: a ConfigMap mounted at ${spec.configMountPath}.`,
        'A change rolls the pods.',
      ],
    ],
    [
      'secrets',
      [
        `Secret values (a Secret mounted at ${spec.secretMountPath}) are never stored here.`,
        'Each key is required at install; a change rolls the pods:',
        ...secretKeys.map((k) => `  --set secrets.${k}=VALUE   (or --set-file secrets.${k}=PATH)`),
        ...(secretKeys.some((k) => spec.secrets[k]?.fromFile !== undefined)
          ? [
              'A value of a key the spec reads from a file loses one trailing line break, as in gantry deploy.',
            ]
          : []),
      ],
    ],
    ['resources', ['Container resource requests and limits.']],
    ['probes', ['HTTP probes of the container.']],
    [
      'service',
      [
        'Service type, the Service port of each named container port, and the node ports',
        'the spec fixes (NodePort or LoadBalancer).',
      ],
    ],
    ['disruptionBudget', ['PodDisruptionBudget: minAvailable or maxUnavailable.']],
  ];
  const known = new Set(sections.map(([k]) => k));
  for (const k of Object.keys(values)) {
    if (!known.has(k)) throw new Error(`chart: values.${k} has no section in values.yaml`);
  }
  const parts = [
    `# Default values of the ${spec.name} chart, generated by gantry chart from its gantry.yaml.`,
    '# With these values (and the secrets set) the chart renders exactly what',
    '# `gantry render` renders for the spec.',
  ];
  for (const [key, comment] of sections) {
    if (!(key in values)) continue;
    parts.push(
      '',
      ...comment.map((l) => `# ${l}`.trimEnd()),
      stringifyYaml({ [key]: values[key] }).trimEnd(),
    );
  }
  return parts.join('\n') + '\n';
}

function helpers(spec: ServiceSpec, appVersion: string | undefined): string {
  const n = spec.name;
  const VERSION = 'app.kubernetes.io/version';
  const fixedLabels = commonLabels(spec, undefined);
  if (appVersion) delete fixedLabels[VERSION];
  const yaml = (m: Record<string, string>) => escapeTemplate(stringifyYaml(m).trimEnd());
  const secretKeys = Object.keys(spec.secrets)
    .sort()
    .map((k) => JSON.stringify(k))
    .join(' ');
  // Keys the spec reads from a file: deploy drops one trailing line break of the
  // file, so the chart drops it from the value given (--set-file keeps it).
  const fileKeys = Object.keys(spec.secrets)
    .filter((k) => spec.secrets[k]?.fromFile !== undefined)
    .sort()
    .map((k) => JSON.stringify(k))
    .join(' ');
  const trimmed = fileKeys
    ? `{{- if has $key (list ${fileKeys}) }}{{ regexReplaceAll "\\r?\\n$" $v "" }}{{ else }}{{ $v }}{{ end -}}`
    : '{{- $v -}}';
  // contentHash(config, secrets) of render/hash.ts: "key\0value\0" for each
  // key in order, "\x01" after each map; sha256, first 16 hex digits.
  return `{{/*
Helpers of the ${n} chart, generated by gantry chart. The labels, selector and
config hash are the ones gantry renders.
*/}}

{{/* Labels on every object and on the pods. */}}
{{- define "${n}.labels" -}}
${yaml(fixedLabels)}
{{- with .Chart.AppVersion }}
${VERSION}: {{ regexReplaceAll "[^A-Za-z0-9._-]" (toString .) "_" | trunc 63 | trimAll "._-" | quote }}
{{- end }}
{{- end }}

{{/* Labels on the pods: the labels above and the release track. */}}
{{- define "${n}.podLabels" -}}
{{ include "${n}.labels" . }}
${yaml({ [TRACK_LABEL]: 'stable' })}
{{- end }}

{{/* Labels that select the pods; never the version (selectors are immutable). */}}
{{- define "${n}.selectorLabels" -}}
${yaml(selectorLabels(spec))}
{{- end }}

{{/* The Service selects the stable track; a canary has its own Service. */}}
{{- define "${n}.stableSelectorLabels" -}}
${yaml(trackSelector(spec, 'stable'))}
{{- end }}

{{/* The image reference: repository[:tag][@digest]. */}}
{{- define "${n}.image" -}}
{{ .Values.image.repository }}{{ with .Values.image.tag }}:{{ . }}{{ end }}{{ with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
Container env from the env map, sorted by name. As JSON, whose strings are always
quoted, so YAML 1.1 and 1.2 readers read every value as a string ("no", "1_000");
NEL, a line break to YAML 1.1, is escaped.
*/}}
{{- define "${n}.env" -}}
{{- $env := list -}}
{{- $m := .Values.env | default dict -}}
{{- range $k := keys $m | sortAlpha -}}
{{- $env = append $env (dict "name" $k "value" (index $m $k | toString)) -}}
{{- end -}}
{{- toJson $env | replace "\\u0085" "\\\\u0085" -}}
{{- end }}

{{/* ConfigMap data: every config value as a string (as JSON, like env). */}}
{{- define "${n}.configData" -}}
{{- $data := dict -}}
{{- range $k, $v := .Values.config | default dict -}}
{{- $_ := set $data $k (toString $v) -}}
{{- end -}}
{{- toJson $data | replace "\\u0085" "\\\\u0085" -}}
{{- end }}

{{/*
A secret value (list . KEY), required at install, as gantry deploy would read it
from the spec's source: for a key read from a file, one trailing line break
(which --set-file keeps) is dropped.
*/}}
{{- define "${n}.secretValue" -}}
{{- $key := index . 1 -}}
{{- $v := index ((index . 0).Values.secrets | default dict) $key | required (printf "secrets.%s is required: helm install --set secrets.%s=VALUE (or --set-file)" $key $key) | toString -}}
${trimmed}
{{- end }}

{{/* Hash of config and secret content on the pod template: a change rolls the pods. */}}
{{- define "${n}.configHash" -}}
{{- $s := "" -}}
{{- $config := .Values.config | default dict -}}
{{- range $k := keys $config | sortAlpha -}}
{{- $s = printf "%s%s\\x00%s\\x00" $s $k (index $config $k | toString) -}}
{{- end -}}
{{- $s = printf "%s\\x01" $s -}}
{{- range $k := list ${secretKeys} -}}
{{- $s = printf "%s%s\\x00%s\\x00" $s $k (include "${n}.secretValue" (list $ $k)) -}}
{{- end -}}
{{- $s = printf "%s\\x01" $s -}}
{{- sha256sum $s | trunc 16 -}}
{{- end }}
`;
}
