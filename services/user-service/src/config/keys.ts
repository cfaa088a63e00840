// The service's configuration keys: default, parser, and whether a key is secret or reloadable.
// Parsers throw Error with a message a person can act on; the loader adds key and source.
import {
  parseBoolean,
  parseFaultErrorRate,
  parseFaultErrorStatus,
  parseFaultLatency,
  parseFaultRoutes,
} from '../ops/faults.js';
import type { LatencyFault } from '../ops/faults.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type DatabaseTarget =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string };

interface KeySpec<T> {
  readonly default: string;
  readonly parse: (raw: string) => T;
  /** Value is never logged; a mounted Secret file is its expected source. */
  readonly secret?: boolean;
  /** Re-read from CONFIG_DIR while running and applied without restart. */
  readonly reloadable?: boolean;
  readonly description: string;
}

function integer(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const text = raw.trim();
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new Error(`must be a whole number between ${min} and ${max}, got "${text}"`);
    }
    return n;
  };
}

export function parseLogLevel(raw: string): LogLevel {
  const text = raw.trim().toLowerCase();
  const level = LOG_LEVELS.find((l) => l === text);
  if (level === undefined) {
    throw new Error(`must be one of ${LOG_LEVELS.join(', ')}, got "${raw.trim()}"`);
  }
  return level;
}

/** Never echoes the value: a database URL usually carries a password. */
export function parseDatabaseUrl(raw: string): DatabaseTarget {
  const text = raw.trim();
  if (text === '' || text === 'sqlite::memory:') return { kind: 'sqlite', path: ':memory:' };
  if (text.startsWith('sqlite:')) {
    const path = text.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '' || path.includes('\0')) {
      throw new Error('must be sqlite::memory: or sqlite:/path/to/file.db');
    }
    return { kind: 'sqlite', path };
  }
  if (/^postgres(ql)?:\/\//.test(text)) {
    try {
      new URL(text);
    } catch {
      throw new Error('is not a valid postgres:// URL');
    }
    return { kind: 'postgres', url: text };
  }
  throw new Error(
    'must be empty, sqlite::memory:, sqlite:/path/to/file.db or postgres://user:password@host:port/db',
  );
}

function hostName(raw: string): string {
  const text = raw.trim();
  if (!/^[A-Za-z0-9.:[\]-]{1,253}$/.test(text)) {
    throw new Error(`must be an IP address or host name such as 0.0.0.0, got "${text}"`);
  }
  return text;
}

export const KEYS = {
  PORT: { default: '8080', parse: integer(0, 65535), description: 'TCP port to listen on' },
  HOST: { default: '0.0.0.0', parse: hostName, description: 'address to listen on' },
  LOG_LEVEL: {
    default: 'info',
    parse: parseLogLevel,
    reloadable: true,
    description: 'pino log level',
  },
  DATABASE_URL: {
    default: '',
    parse: parseDatabaseUrl,
    secret: true,
    description: 'empty or sqlite::memory: (embedded, in memory), sqlite:/file.db, postgres://...',
  },
  BODY_LIMIT_BYTES: {
    default: '65536',
    parse: integer(1, 64 * 1024 * 1024),
    description: 'largest request body accepted; larger bodies get 413',
  },
  SHUTDOWN_DRAIN_DELAY_MS: {
    default: '5000',
    parse: integer(0, 600_000),
    description: 'time between failing /readyz and closing the listener on SIGTERM',
  },
  SHUTDOWN_TIMEOUT_MS: {
    default: '30000',
    parse: integer(1, 3_600_000),
    description: 'bound on the whole shutdown; past it the process exits 1',
  },
  CONFIG_POLL_INTERVAL_MS: {
    default: '5000',
    parse: integer(100, 3_600_000),
    description: 'fallback poll interval for CONFIG_DIR changes (fs.watch is the fast path)',
  },
  FAULT_LATENCY_MS: {
    default: '0',
    parse: parseFaultLatency,
    reloadable: true,
    description: 'added latency on API routes: "250" fixed or "100-300" random range',
  },
  FAULT_ERROR_RATE: {
    default: '0',
    parse: parseFaultErrorRate,
    reloadable: true,
    description: 'share (0..1) of API requests answered with FAULT_ERROR_STATUS',
  },
  FAULT_ERROR_STATUS: {
    default: '500',
    parse: parseFaultErrorStatus,
    reloadable: true,
    description: 'status of injected errors (5xx)',
  },
  FAULT_ROUTES: {
    default: '',
    parse: parseFaultRoutes,
    reloadable: true,
    description: 'comma-separated route templates faults are limited to (default all API routes)',
  },
  FAULT_READY: {
    default: 'true',
    parse: (raw: string) => parseBoolean(raw, true),
    reloadable: true,
    description: 'false makes /readyz fail',
  },
} as const satisfies Record<string, KeySpec<unknown>>;

export type ConfigKey = keyof typeof KEYS;
export const CONFIG_KEYS = Object.keys(KEYS) as ConfigKey[];

export type ConfigValues = {
  -readonly [K in ConfigKey]: ReturnType<(typeof KEYS)[K]['parse']>;
};

export function isConfigKey(name: string): name is ConfigKey {
  return Object.hasOwn(KEYS, name);
}

export function isSecretKey(key: ConfigKey): boolean {
  const spec: KeySpec<unknown> = KEYS[key];
  return spec.secret === true;
}

export function isReloadableKey(key: ConfigKey): boolean {
  const spec: KeySpec<unknown> = KEYS[key];
  return spec.reloadable === true;
}

export type { LatencyFault };
