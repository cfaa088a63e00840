// The process logger: JSON lines on stdout (pino), with credentials redacted wherever they
// might appear (request headers, config dumps, connection strings). Every line is counted in
// log_lines_total{level} (ops/metrics.ts).
import pino from 'pino';
import type { Logger } from 'pino';
import { countLogLines } from './ops/metrics.js';

// Explicit paths only: wildcard paths make every log call slower.
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
  'password',
  'DATABASE_URL',
  'connectionString',
];

let lastMs = 0;
let lastStamp = '';

/** pino's ISO timestamp, formatted once per millisecond instead of once per line. */
export function isoTimeCached(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastStamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastStamp;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'user-service' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: isoTimeCached,
    formatters: { level: (label) => ({ level: label }) },
    hooks: { logMethod: countLogLines() },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
