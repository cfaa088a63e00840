// Value formats the Kubernetes API server enforces (k8s.io/apimachinery's
// util/validation and the Gateway API CRD), as predicates that return the
// reasons a value is refused ([] when it is accepted). Written from the
// upstream rules of Kubernetes v1.34 and Gateway API v1.4; see k8s-rules.ts
// for where each applies.

/** One label of a DNS-1123 subdomain. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const PORT_NAME_CHARS = /^[-a-z0-9]+$/;
const PERCENT = /^[0-9]+%$/;

/** Length in bytes, as Go's len() counts a string. */
export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** A DNS-1123 subdomain: at most 253 characters, dot-separated DNS labels. */
export function dnsSubdomainProblems(v: string): string[] {
  const out: string[] = [];
  if (v.length > 253) out.push('must be no more than 253 characters');
  if (!v.split('.').every((part) => DNS_LABEL.test(part))) {
    out.push(
      'must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit',
    );
  }
  return out;
}

/** A DNS-1035 label (Service names): a DNS-1123 label that starts with a letter. */
export function dns1035Problems(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push('must be no more than 63 characters');
  if (!DNS1035_LABEL.test(v)) {
    out.push(
      'must be a DNS-1035 label: lower-case letters, digits and "-", starting with a letter and ending with a letter or digit',
    );
  }
  return out;
}

/** A qualified name (label and annotation keys): [prefix/]name. */
export function qualifiedNameProblems(v: string): string[] {
  const parts = v.split('/');
  if (parts.length > 2) {
    return [
      'must be a name, optionally with a DNS subdomain prefix and "/" (e.g. example.com/name)',
    ];
  }
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  const out: string[] = [];
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix.length === 0) out.push('prefix part must not be empty');
    else out.push(...dnsSubdomainProblems(prefix).map((m) => `prefix part ${m}`));
  }
  if (name.length === 0) out.push('name part must not be empty');
  else {
    if (name.length > 63) out.push('name part must be no more than 63 characters');
    if (!QUALIFIED_NAME.test(name)) {
      out.push(
        'name part must consist of letters, digits, "-", "_" or ".", starting and ending with a letter or digit',
      );
    }
  }
  return out;
}

/** A label value: empty, or at most 63 of [A-Za-z0-9._-] with alphanumerics at both ends. */
export function labelValueProblems(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push('must be no more than 63 characters');
  if (v !== '' && !QUALIFIED_NAME.test(v)) {
    out.push(
      'must be empty or consist of letters, digits, "-", "_" or ".", starting and ending with a letter or digit',
    );
  }
  return out;
}

/** A port name (IANA_SVC_NAME): containers' ports and named target and probe ports. */
export function portNameProblems(v: string): string[] {
  const out: string[] = [];
  if (v.length > 15) out.push('must be no more than 15 characters');
  if (!PORT_NAME_CHARS.test(v)) out.push('must contain only a-z, 0-9 and "-"');
  if (!/[a-z]/.test(v)) out.push('must contain at least one letter (a-z)');
  if (v.includes('--')) out.push('must not contain consecutive hyphens');
  if (v.startsWith('-') || v.endsWith('-')) out.push('must not begin or end with a hyphen');
  return out;
}

/** A ConfigMap or Secret key (also a file name in the mounted volume). */
export function configKeyProblems(v: string): string[] {
  const out: string[] = [];
  if (v.length > 253) out.push('must be no more than 253 characters');
  if (!CONFIG_KEY.test(v)) out.push('must consist of letters, digits, "-", "_" or "."');
  if (v === '.') out.push("must not be '.'");
  else if (v === '..') out.push("must not be '..'");
  else if (v.startsWith('..')) out.push("must not start with '..'");
  return out;
}

/** The percentage in "25%", or undefined when `v` is not a percentage string. */
export function percentValue(v: number | string): number | undefined {
  if (typeof v !== 'string' || !PERCENT.test(v)) return undefined;
  return Number(v.slice(0, -1));
}

/** An int-or-percent as the apps validation reads it (0 for "0%"). */
export function intOrPercentValue(v: number | string): number {
  return percentValue(v) ?? (typeof v === 'number' ? v : Number.NaN);
}

const BINARY_SUFFIX: Record<string, bigint> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};
const DECIMAL_SUFFIX: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const QUANTITY =
  /^([+-]?)(?:([0-9]+)(?:\.([0-9]*))?|\.([0-9]+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?[0-9]+))?$/;

/**
 * A quantity (250m, 0.5, 128Mi, 1e3) in billionths, rounded up as the API server rounds
 * values finer than its nano precision; undefined when `v` is not a quantity.
 */
export function quantityNanos(v: number | string): bigint | undefined {
  const m = QUANTITY.exec(String(v));
  if (!m) return undefined;
  const [, sign, int = '', frac1 = '', frac2 = '', suffix = '', exp] = m;
  const frac = frac1 || frac2;
  let digits = BigInt(`${int}${frac}` || '0');
  let exp10 = 9 - frac.length;
  if (exp !== undefined) exp10 += Number(exp);
  else if (suffix in BINARY_SUFFIX) digits *= BINARY_SUFFIX[suffix]!;
  else exp10 += DECIMAL_SUFFIX[suffix] ?? 0;
  let nanos: bigint;
  if (exp10 >= 0) nanos = digits * 10n ** BigInt(exp10);
  else {
    const d = 10n ** BigInt(-exp10);
    nanos = (digits + d - 1n) / d;
  }
  return sign === '-' ? -nanos : nanos;
}

// Gateway API v1.4 (HTTPRoute CRD, standard channel).
const HTTP_PATH_CHARS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$/;
const HTTP_HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

/** An HTTPRoute path match value of type Exact or PathPrefix (the CRD's CEL rules). */
export function routePathProblems(v: string): string[] {
  const out: string[] = [];
  if (v.length > 1024) out.push('must be no more than 1024 characters');
  if (!v.startsWith('/')) out.push("must be an absolute path starting with '/'");
  for (const bad of ['//', '/./', '/../', '%2f', '%2F', '#']) {
    if (v.includes(bad)) out.push(`must not contain '${bad}'`);
  }
  for (const bad of ['/..', '/.']) {
    if (v.endsWith(bad)) out.push(`must not end with '${bad}'`);
  }
  if (!HTTP_PATH_CHARS.test(v)) {
    out.push(
      "must contain only letters, digits, -/._~!$&'()*+,;=:@ and %XX escapes (write other characters percent-encoded)",
    );
  }
  return out;
}

/** An HTTP header name as the Gateway API takes it (RFC 7230 token, at most 256). */
export function headerNameProblems(v: string): string[] {
  const out: string[] = [];
  if (v.length > 256) out.push('must be no more than 256 characters');
  if (!HTTP_HEADER_NAME.test(v)) {
    out.push("must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)");
  }
  return out;
}
