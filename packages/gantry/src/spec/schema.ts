// The service spec (gantry.yaml): one typed schema with defaults, from which
// validation, TypeScript types and the editor JSON Schema all derive.
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { closest, quote } from './errors.js';

// zod compiles a fast path for each object schema (new Function) on its first parse; a CLI
// parses one spec per run, so the compile costs more than it saves (~5 ms of a first parse
// here), and such code never reaches the CLI's V8 code cache.
z.config({ jitless: true });

export const SPEC_API_VERSION = 'gantry.dev/v1alpha1';

const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    message:
      'must be a DNS label: lower-case letters, digits and "-", starting and ending with an alphanumeric',
  });

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
  message: 'must be an environment variable name (letters, digits, "_"; not starting with a digit)',
});

const configKey = z.string().regex(/^[-._a-zA-Z0-9]+$/, {
  message: 'must consist of letters, digits, "-", "_" or "." (a ConfigMap/Secret key)',
});

/** Kubernetes resource quantity, e.g. 100m, 0.5, 128Mi, 1G. */
const quantity = z.union([
  z.number().positive(),
  z.string().regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/, {
    message: 'must be a Kubernetes quantity such as 250m, 0.5, 128Mi or 1Gi',
  }),
]);

/**
 * A whole number within the 32-bit range Kubernetes stores counts, ports and seconds in,
 * so an overflow is reported at the spec's field rather than at the rendered object's.
 */
const int32 = z
  .number()
  .int()
  .max(2 ** 31 - 1);

/** An absolute count or a percentage such as "25%". */
const intOrPercent = z.union([
  int32.min(0),
  z.string().regex(/^[0-9]{1,3}%$/, { message: 'must be an integer or a percentage such as 25%' }),
]);

const port = z.number().int().min(1).max(65535);

const resourceList = z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() });

const probe = z.strictObject({
  path: z.string().startsWith('/').describe('HTTP path probed on the container port'),
  port: z
    .union([port, dnsLabel])
    .optional()
    .describe('port number or name; default: the first port'),
  initialDelaySeconds: int32.min(0).default(0),
  periodSeconds: int32.min(1).default(5),
  timeoutSeconds: int32.min(1).default(2),
  failureThreshold: int32.min(1).default(3),
  successThreshold: int32.min(1).default(1),
});

const secretSource = z
  .strictObject({
    fromFile: z.string().min(1).optional().describe('read the value from this file at deploy time'),
    fromEnv: envName
      .optional()
      .describe('read the value from this environment variable at deploy time'),
  })
  .refine((s) => (s.fromFile === undefined) !== (s.fromEnv === undefined), {
    message: 'give exactly one of fromFile or fromEnv (secret values never live in the spec)',
  });

/** A Gateway API hostname: a DNS name, lower case, optionally with a leading "*." wildcard. */
const hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    message:
      'must be a lower-case DNS name (letters, digits, "-" and "."), optionally starting with "*."',
  });

const routeMatch = z.strictObject({
  path: z.string().startsWith('/').default('/'),
  pathType: z.enum(['PathPrefix', 'Exact']).default('PathPrefix'),
});

/** The longest duration a spec may give: a year, in seconds. */
const MAX_DURATION = 365 * 24 * 3600;

/** A duration: seconds as a number, or a string such as 500ms, 30s, 2m, 1h. Parsed to seconds. */
const duration = z
  .union([
    z.number().min(0).max(MAX_DURATION, { message: 'must be at most 365 days (31536000 seconds)' }),
    z.string().regex(/^[0-9]+(\.[0-9]+)?(ms|s|m|h)$/, {
      message: 'must be a duration such as 500ms, 30s, 2m or 1h (or a number of seconds)',
    }),
  ])
  .transform((v) => (typeof v === 'number' ? v : parseDuration(v)))
  .refine((v) => v <= MAX_DURATION, { message: 'must be at most 365 days (8760h)' });

/** Seconds in a duration string such as 500ms, 30s, 2m or 1h. */
export { parseDuration };

const ratio = z.number().min(0).max(1);

const releaseStep = z.strictObject({
  weight: z
    .number()
    .min(0)
    .max(100)
    .describe('canary: % of requests; gray: % of users (by user-id hash); 0 = preview only'),
  pause: duration
    .optional()
    .describe(
      'least time at this step (default: analysis.minStepDuration); analysis must pass too',
    ),
  gate: z
    .enum(['auto', 'manual'])
    .default('auto')
    .describe('manual: wait here for `gantry release resume` (or promote)'),
});

const analysisSchema = z.strictObject({
  interval: duration.default(5).describe('how often the judge reads Prometheus'),
  minStepDuration: duration.default(15).describe('least time a step runs when it has no pause'),
  maxStepDuration: duration
    .default(300)
    .describe(
      'a step the tests leave undecided this long passes if the canary is no worse than stable; see onInconclusive',
    ),
  onInconclusive: z
    .enum(['abort', 'hold'])
    .default('abort')
    .describe(
      'a step undecided at maxStepDuration whose canary is measurably worse than stable: abort, or hold it open for a person',
    ),
  prometheus: z
    .string()
    .url()
    .optional()
    .describe('Prometheus base URL; default: $GANTRY_PROMETHEUS_URL, then http://127.0.0.1:9090'),
  requests: z
    .strictObject({
      metric: z.string().min(1).default('http_requests_total'),
      statusLabel: z.string().min(1).default('status_code'),
      errorStatus: z
        .string()
        .min(1)
        .default('5..')
        .describe('regex of status codes that count as errors'),
      selector: z
        .string()
        .default('')
        .describe('extra PromQL label matchers, e.g. method!="OPTIONS"'),
      routeLabel: z
        .string()
        .min(1)
        .default('route')
        .describe("the metric's label holding the request's route or path"),
      exclude: z
        .array(z.string().startsWith('/'))
        .optional()
        .describe(
          "routes that are not user traffic, left out of the judge and the alerts; default: the spec's probe paths and metrics path",
        ),
    })
    .default({
      metric: 'http_requests_total',
      statusLabel: 'status_code',
      errorStatus: '5..',
      selector: '',
      routeLabel: 'route',
    }),
  latency: z
    .strictObject({
      metric: z
        .string()
        .min(1)
        .default('http_request_duration_seconds')
        .describe('histogram (seconds); its _bucket series are read'),
      slowThreshold: duration
        .optional()
        .describe(
          "requests slower than this are 'slow'; default: the stable track's P99, bucket-rounded",
        ),
    })
    .default({ metric: 'http_request_duration_seconds' }),
  errorRate: z
    .strictObject({
      tolerance: ratio.default(0.005).describe('excess over stable that is still a pass'),
      detect: ratio.default(0.02).describe('excess over stable that must be caught'),
    })
    .default({ tolerance: 0.005, detect: 0.02 }),
  slowRate: z
    .strictObject({
      tolerance: ratio.default(0.01),
      detect: ratio.default(0.05),
    })
    .default({ tolerance: 0.01, detect: 0.05 }),
  falseAbortRate: ratio
    .default(0.001)
    .describe("chance that a good step is aborted (the test's alpha)"),
  missRate: ratio.default(0.05).describe("chance that a bad step passes (the test's beta)"),
  guardRails: z
    .strictObject({
      maxErrorRate: ratio.optional().describe('abort when the canary error rate exceeds this'),
      maxP99: duration.optional().describe('abort when the canary P99 exceeds this'),
      minRequests: int32.min(1).default(20).describe('before a guard rail can fire'),
    })
    .default({ minRequests: 20 }),
  queries: z
    .array(
      z
        .strictObject({
          name: dnsLabel,
          query: z
            .string()
            .min(1)
            .describe('PromQL returning one number; $track is replaced by stable or canary'),
          max: z.number().optional(),
          min: z.number().optional(),
        })
        .refine((q) => q.max !== undefined || q.min !== undefined, {
          message: 'give max, min or both',
        }),
    )
    .default([]),
});

const releaseSchema = z
  .strictObject({
    strategy: z
      .enum(['rolling', 'canary', 'gray', 'blueGreen'])
      .default('rolling')
      .describe(
        'rolling: plain deploy; canary: % of requests; gray: sticky % of users; blueGreen: preview then switch',
      ),
    router: z
      .enum(['gateway', 'replicas'])
      .optional()
      .describe(
        'gateway: HTTPRoute weights and matches; replicas: replica ratio. Default: gateway when routes exist',
      ),
    steps: z.array(releaseStep).min(1).optional(),
    gray: z
      .strictObject({
        header: z
          .strictObject({ name: z.string().min(1), value: z.string().min(1) })
          .optional()
          .describe('requests with this header always go to the canary'),
        cookie: z
          .strictObject({ name: z.string().min(1), value: z.string().min(1) })
          .optional()
          .describe('requests with this cookie always go to the canary'),
        userHeader: z
          .string()
          .min(1)
          .optional()
          .describe('header carrying a user id whose last hex digits are uniform (UUID or hash)'),
      })
      .default({ header: { name: 'x-gantry-track', value: 'canary' } }),
    blueGreen: z
      .strictObject({
        autoSwitch: z.boolean().default(false).describe('switch without waiting for a resume'),
        observe: duration.default(60).describe('time on the new version before it is promoted'),
      })
      .default({ autoSwitch: false, observe: 60 }),
    analysis: analysisSchema.default(analysisSchema.parse({})),
    notify: z
      .array(
        z
          .strictObject({
            url: z
              .union([z.string().url(), secretSource])
              .describe(
                'webhook URL, or { fromEnv | fromFile } to keep a robot access token out of the spec',
              ),
            format: z.enum(['json', 'dingtalk', 'wecom']).default('json'),
            secret: secretSource
              .optional()
              .describe('DingTalk robot signing secret (SEC...), from env or file'),
          })
          .refine((n) => n.secret === undefined || n.format === 'dingtalk', {
            message: 'secret signs DingTalk robot messages: it needs format: dingtalk',
            path: ['secret'],
          }),
      )
      .default([]),
  })
  .refine((r) => r.strategy !== 'gray' || r.router !== 'replicas', {
    message:
      'gray releases need a router (router: gateway and routes); replica ratios are not sticky',
    path: ['router'],
  });

const errorRateAlert = z.strictObject({
  above: ratio.default(0.01).describe('share of requests answered with an error status'),
  window: duration.default(300).describe('rate window'),
  for: duration.default(120).describe('how long it must hold before the alert fires'),
});
const latencyAlert = z.strictObject({
  above: duration.default(0.6),
  window: duration.default(300),
  for: duration.default(300),
});
const cpuAlert = z.strictObject({
  above: ratio.default(0.8).describe('share of the CPU limit (or request, without one)'),
  window: duration
    .default(300)
    .describe('rate window; cAdvisor samples every 10-15 s, so 1m at least'),
  for: duration.default(300),
});
const memoryAlert = z.strictObject({
  above: ratio.default(0.85).describe('share of the memory limit (or request)'),
  for: duration.default(300),
});
const downAlert = z.strictObject({ for: duration.default(60) });
const errorLogsAlert = z.strictObject({
  above: z
    .number()
    .min(0)
    .default(100)
    .describe("error and fatal log lines per minute, summed over the service's pods"),
  window: duration.default(60).describe('rate window'),
  for: duration.default(60),
});
const off = z.literal(false);

/** The alerts gantry's rules produce; routes may name them with or without "Gantry". */
export const GANTRY_ALERT_NAMES = [
  'GantryErrorRateHigh',
  'GantryLatencyP99High',
  'GantryCPUHigh',
  'GantryMemoryHigh',
  'GantryServiceDown',
  'GantryErrorBudgetBurn',
  'GantryErrorLogsHigh',
] as const;

const receiverName = dnsLabel.describe('receiver name');
const mobiles = z.array(
  z.string().regex(/^\+?[0-9]{5,20}$/, { message: 'must be a phone number' }),
);
const emailAddress = z
  .string()
  .regex(/^[^@\s]+@[^@\s]+$/, { message: 'must be an e-mail address' });
const aliyunAccess = {
  provider: z.literal('aliyun').default('aliyun').describe('the SMS / voice provider'),
  accessKeyId: secretSource.describe('AccessKey ID, from env or file'),
  accessKeySecret: secretSource.describe('AccessKey secret, from env or file'),
  language: z
    .enum(['zh', 'en'])
    .optional()
    .describe('message language; default: monitoring.language'),
};
const receiverSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('email'),
    to: z.array(emailAddress).min(1),
    from: emailAddress,
    smarthost: z
      .string()
      .regex(/^[^:\s]+:[0-9]{1,5}$/, { message: 'must be host:port, e.g. smtp.example.com:587' }),
    authUsername: z.string().min(1).optional(),
    authPassword: secretSource.optional().describe('SMTP password, from env or file'),
    requireTLS: z
      .boolean()
      .default(true)
      .describe('STARTTLS required (Alertmanager smtp_require_tls)'),
  }),
  z.strictObject({
    kind: z.literal('webhook'),
    url: z
      .union([z.string().url(), secretSource])
      .describe('the alert platform: receives Alertmanager webhook payloads (version 4)'),
  }),
  z.strictObject({
    kind: z.literal('dingtalk'),
    url: secretSource.describe('robot URL with its access_token, from env or file'),
    secret: secretSource.optional().describe('signing secret (SEC...), from env or file'),
    atMobiles: mobiles.default([]),
    atAll: z.boolean().default(false),
    language: z.enum(['zh', 'en']).optional(),
  }),
  z
    .strictObject({
      kind: z.literal('wecom'),
      url: secretSource.optional().describe('group robot webhook URL (with key), from env or file'),
      key: secretSource.optional().describe('group robot key, from env or file'),
      mentionedMobiles: mobiles.default([]),
      language: z.enum(['zh', 'en']).optional(),
    })
    .refine((r) => (r.url === undefined) !== (r.key === undefined), {
      message: 'give exactly one of url or key',
    }),
  z.strictObject({
    kind: z.literal('sms'),
    ...aliyunAccess,
    endpoint: z.string().url().default('https://dysmsapi.aliyuncs.com/'),
    signName: z.string().min(1),
    templateCode: z.string().min(1),
    phoneNumbers: mobiles.min(1),
  }),
  z.strictObject({
    kind: z.literal('voice'),
    ...aliyunAccess,
    endpoint: z.string().url().default('https://dyvmsapi.aliyuncs.com/'),
    calledShowNumber: z.string().min(1),
    ttsCode: z.string().min(1),
    calledNumbers: mobiles.min(1),
  }),
]);

const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, { message: 'must be a label name' });
const alertRoute = z.strictObject({
  alerts: z
    .array(z.string().min(1))
    .optional()
    .describe('alert names, e.g. CPUHigh or GantryCPUHigh (any of them)'),
  severity: z.array(z.string().min(1)).optional().describe('severity labels (any of them)'),
  matchers: z
    .array(
      z
        .string()
        .regex(/^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*("([^"\\]|\\.)*"|[^"\s]*)\s*$/, {
          message: 'must be an Alertmanager matcher such as team="core" or pod=~"api-.*"',
        }),
    )
    .optional()
    .describe('further label matchers (all of them)'),
  receivers: z.array(receiverName).min(1).describe('every one of these receives the alert'),
  continue: z
    .boolean()
    .default(false)
    .describe('also try the routes after this one (default: the first matching route wins)'),
});

const monitoringSchema = z
  .strictObject({
    alerts: z
      .strictObject({
        errorRate: z
          .union([off, errorRateAlert])
          .default(errorRateAlert.parse({}))
          .describe(
            'errors (release.analysis.requests.errorStatus) over all requests of both tracks; false: none',
          ),
        latencyP99: z
          .union([off, latencyAlert])
          .default(latencyAlert.parse({}))
          .describe('P99 of the latency histogram (release.analysis.latency.metric); false: none'),
        cpu: z
          .union([off, cpuAlert])
          .default(cpuAlert.parse({}))
          .describe("a pod's CPU use (cAdvisor's container_cpu_usage_seconds_total); false: none"),
        memory: z
          .union([off, memoryAlert])
          .default(memoryAlert.parse({}))
          .describe(
            "a pod's working set (cAdvisor's container_memory_working_set_bytes); false: none",
          ),
        down: z
          .union([off, downAlert])
          .default(downAlert.parse({}))
          .describe('no pod of the service is scraped successfully; false: none'),
        errorLogs: z
          .union([off, errorLogsAlert])
          .default(errorLogsAlert.parse({}))
          .describe(
            "error log lines of the service's pods, counted by the node's log agent (gantry_log_lines_total); false: none",
          ),
      })
      .default({
        errorRate: errorRateAlert.parse({}),
        latencyP99: latencyAlert.parse({}),
        cpu: cpuAlert.parse({}),
        memory: memoryAlert.parse({}),
        down: downAlert.parse({}),
        errorLogs: errorLogsAlert.parse({}),
      }),
    slo: z
      .strictObject({
        availability: z.number().gt(0).lt(1).describe('target share of good requests, e.g. 0.999'),
        windowDays: z.number().int().min(1).max(90).default(30).describe('the error budget period'),
      })
      .optional()
      .describe(
        'multiwindow burn-rate alerts on the error budget (page: fast burns; ticket: slow)',
      ),
    labels: z
      .record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/), z.string())
      .default({})
      .describe('labels on every alert, e.g. team, for Alertmanager routing'),
    rules: z
      .array(
        z.strictObject({
          alert: z
            .string()
            .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, { message: 'must be a metric-style name' })
            .describe('the alert name'),
          expr: z.string().min(1).describe('PromQL: the alert fires while it returns a series'),
          for: duration.default(0).describe('how long it must hold before the alert fires'),
          severity: z.string().min(1).default('warning'),
          summary: z.string().optional(),
          description: z.string().optional(),
        }),
      )
      .default([])
      .describe(
        "the service's own alerting rules beside gantry's, with its labels (route them with matchers on alertname)",
      ),
    receivers: z
      .record(receiverName, receiverSchema)
      .default({})
      .describe(
        'who is told: email, webhook, dingtalk, wecom, sms, voice (credentials from env or file)',
      ),
    routes: z
      .array(alertRoute)
      .default([])
      .describe(
        'which alerts go to which receivers; an alert no route takes goes to the default receiver',
      ),
    language: z.enum(['zh', 'en']).default('zh').describe('language of relayed messages'),
    relay: z
      .strictObject({
        url: z
          .string()
          .url()
          .optional()
          .describe(
            'alert relay base URL; default: $GANTRY_ALERT_RELAY_URL, http://127.0.0.1:30093',
          ),
      })
      .default({})
      .describe('the relay delivering to dingtalk, wecom, sms and voice receivers'),
    links: z
      .strictObject({
        console: z.string().url().optional(),
        prometheus: z.string().url().optional(),
      })
      .default({})
      .describe('links put in relayed messages'),
    groupBy: z.array(labelName).default(['alertname', 'namespace', 'service']),
    groupWait: duration
      .default(30)
      .describe('wait for more alerts of a new group before notifying'),
    groupInterval: duration.default(300).describe('wait before notifying about changes to a group'),
    repeatInterval: z
      .record(z.string().min(1), duration)
      .default({ page: 3600, critical: 3600, warning: 14400, ticket: 43200, default: 14400 })
      .describe('resend a firing alert after this long, by severity; "default" for the others'),
    inhibitOnDown: z
      .boolean()
      .default(true)
      .describe("a firing GantryServiceDown silences the service's other alerts"),
  })
  .superRefine((m, ctx) => {
    const names = Object.keys(m.receivers);
    m.routes.forEach((r, i) => {
      r.receivers.forEach((name, j) => {
        if (m.receivers[name]) return;
        const hint = closest(name, names);
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'receivers', j],
          message: `no receiver ${quote(name)} in monitoring.receivers${hint ? ` (did you mean "${hint}"?)` : names.length ? ` (receivers: ${names.join(', ')})` : ''}`,
        });
      });
      (r.alerts ?? []).forEach((a, j) => {
        if (gantryAlertName(a) || m.rules.some((x) => x.alert === a)) return;
        const hint = closest(a, [
          ...GANTRY_ALERT_NAMES,
          ...GANTRY_ALERT_NAMES.map((n) => n.slice(6)),
          ...m.rules.map((x) => x.alert),
        ]);
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'alerts', j],
          message: `${quote(a)} is not an alert of gantry's rules or monitoring.rules${hint ? ` (did you mean "${hint}"?)` : ''}; route other alerts with matchers: ['alertname=${quote(a)}']`,
        });
      });
    });
  });

/** CPUHigh or GantryCPUHigh -> GantryCPUHigh; undefined for a name gantry's rules do not use. */
export function gantryAlertName(name: string): string | undefined {
  const full = name.startsWith('Gantry') ? name : `Gantry${name}`;
  return (GANTRY_ALERT_NAMES as readonly string[]).includes(full) ? full : undefined;
}

export const serviceSpecSchema = z
  .strictObject({
    apiVersion: z.literal(SPEC_API_VERSION, {
      message: `must be "${SPEC_API_VERSION}"`,
    }),
    name: dnsLabel.describe('service name; names every rendered object'),
    namespace: dnsLabel.default('default'),
    labels: z.record(z.string(), z.string()).default({}).describe('extra labels on every object'),
    dependsOn: z
      .array(
        z
          .string()
          .regex(/^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/, {
            message: 'must be NAME or NAMESPACE/NAME of another service',
          }),
      )
      .max(64)
      .default([])
      .describe(
        'services deployed before this one when several are deployed together (gantry deploy DIR): NAME (same namespace) or NAMESPACE/NAME',
      ),
    image: z
      .string()
      .min(1)
      .describe('image repository (tag or digest optional; gantry deploy --image overrides)'),
    build: z
      .strictObject({
        kind: z
          .enum(['node', 'go'])
          .describe('node: a Node.js service (dist/ + production deps); go: a static binary'),
        context: z.string().min(1).describe('source directory, relative to this file'),
        base: z
          .string()
          .min(1)
          .optional()
          .describe('base image; node default: $GANTRY_NODE_BASE_IMAGE; go default: scratch'),
        entrypoint: z.array(z.string()).optional(),
        test: z
          .string()
          .min(1)
          .optional()
          .describe('shell command gantry ship runs before building (cwd: the repository root)'),
      })
      .optional()
      .describe('how gantry build makes the image'),
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    replicas: z.number().int().min(0).max(1000).default(1),
    ports: z
      .array(
        z.strictObject({
          name: dnsLabel.max(15).default('http'),
          containerPort: port,
          servicePort: port.optional().describe('port on the Service; default: containerPort'),
          protocol: z.enum(['TCP', 'UDP']).default('TCP'),
          nodePort: z
            .number()
            .int()
            .min(30000, { message: 'must be a node port, 30000-32767' })
            .max(32767, { message: 'must be a node port, 30000-32767' })
            .optional()
            .describe(
              'port on every node (service.type NodePort or LoadBalancer); default: one the cluster picks',
            ),
        }),
      )
      .min(1)
      .default([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]),
    env: z.record(envName, z.string()).default({}).describe('plain environment variables'),
    config: z
      .record(configKey, z.string())
      .default({})
      .describe('non-secret configuration; becomes a ConfigMap mounted at configMountPath'),
    configMountPath: z.string().startsWith('/').default('/etc/app/config'),
    secrets: z
      .record(configKey, secretSource)
      .default({})
      .describe('secret keys; values come from files or env at deploy time, never from the spec'),
    secretMountPath: z.string().startsWith('/').default('/etc/app/secrets'),
    mounts: z
      .array(
        z
          .strictObject({
            secret: z
              .string()
              .min(1)
              .optional()
              .describe("a Secret in the service's namespace that the service does not own"),
            configMap: z
              .string()
              .min(1)
              .optional()
              .describe("a ConfigMap in the service's namespace that the service does not own"),
            path: z
              .string()
              .startsWith('/')
              .describe('directory in the container: one read-only file per key'),
            optional: z
              .boolean()
              .default(false)
              .describe('start the pod when the object does not exist (an empty directory)'),
          })
          .refine((m) => (m.secret === undefined) !== (m.configMap === undefined), {
            message: 'give exactly one of secret or configMap',
          }),
      )
      .default([])
      .describe(
        'Secrets and ConfigMaps made elsewhere, mounted read-only; their updates reach the files without a restart',
      ),
    resources: z
      .strictObject({
        requests: resourceList.default({ cpu: '100m', memory: '128Mi' }),
        limits: resourceList.default({ memory: '256Mi' }),
      })
      .default({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } }),
    probes: z
      .strictObject({
        liveness: probe.optional(),
        readiness: probe.optional(),
        startup: probe.optional(),
      })
      .default({}),
    rollingUpdate: z
      .strictObject({
        maxSurge: intOrPercent.default('25%'),
        maxUnavailable: intOrPercent.default(0),
      })
      .default({ maxSurge: '25%', maxUnavailable: 0 }),
    progressDeadlineSeconds: int32.min(10).default(600),
    terminationGracePeriodSeconds: int32.min(0).default(30),
    autoscaling: z
      .strictObject({
        minReplicas: int32.min(1),
        maxReplicas: int32.min(1),
        targetCPUUtilizationPercentage: z.number().int().min(1).max(100).default(80),
      })
      .refine((a) => a.maxReplicas >= a.minReplicas, {
        message: 'maxReplicas must be at least minReplicas',
      })
      .optional(),
    disruptionBudget: z
      .strictObject({
        minAvailable: intOrPercent.optional(),
        maxUnavailable: intOrPercent.optional(),
      })
      .refine((d) => (d.minAvailable === undefined) !== (d.maxUnavailable === undefined), {
        message: 'give exactly one of minAvailable or maxUnavailable',
      })
      .optional(),
    service: z
      .strictObject({
        type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'None']).default('ClusterIP'),
      })
      .default({ type: 'ClusterIP' }),
    routes: z
      .array(
        z.strictObject({
          hostnames: z.array(hostname).min(1).max(16),
          matches: z.array(routeMatch).default([{ path: '/', pathType: 'PathPrefix' }]),
          gateway: z
            .string()
            .regex(/^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/)?[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?$/, {
              message:
                'must be NAME or NAMESPACE/NAME (lower-case letters, digits and "-", starting and ending with an alphanumeric)',
            })
            .describe('parent Gateway as NAME or NAMESPACE/NAME'),
          port: z.union([port, dnsLabel]).optional(),
        }),
      )
      .default([]),
    metrics: z
      .strictObject({
        path: z.string().startsWith('/').default('/metrics'),
        port: z.union([port, dnsLabel]).optional(),
      })
      .optional()
      .describe('Prometheus scrape annotations on the pods'),
    networkPolicy: z
      .strictObject({
        allowFrom: z
          .array(
            z.strictObject({
              namespace: dnsLabel.optional(),
              podLabels: z.record(z.string(), z.string()).optional(),
            }),
          )
          .default([])
          .describe('who may connect; empty allows only the same namespace'),
      })
      .optional(),
    monitoring: monitoringSchema
      .default(monitoringSchema.parse({}))
      .describe('Prometheus alerting rules for the service (gantry alerts)'),
    release: releaseSchema
      .default(releaseSchema.parse({}))
      .describe('how gantry release ships a new version: rolling, canary, gray or blue-green'),
  })
  .refine((s) => s.autoscaling === undefined || s.replicas <= s.autoscaling.maxReplicas, {
    message: 'replicas exceeds autoscaling.maxReplicas',
    path: ['replicas'],
  });

/** A spec as written (defaults not yet applied). */
export type ServiceSpecInput = z.input<typeof serviceSpecSchema>;
/** A validated spec with every default filled in. */
export type ServiceSpec = z.output<typeof serviceSpecSchema>;
export type ProbeSpec = z.output<typeof probe>;
export type ReleaseSpec = z.output<typeof releaseSchema>;
export type AnalysisSpec = z.output<typeof analysisSchema>;
export type ReleaseStepSpec = z.output<typeof releaseStep>;
export type MonitoringSpec = z.output<typeof monitoringSchema>;
export type ReceiverSpec = z.output<typeof receiverSchema>;
export type AlertRouteSpec = z.output<typeof alertRoute>;

/** The JSON Schema of gantry.yaml, for editors (yaml-language-server). */
export function specJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(serviceSpecSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'Gantry service spec (gantry.yaml)',
  };
}
