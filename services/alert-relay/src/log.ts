// JSON-lines logger on stdout. Every line passes through the scrubber, so a robot token, a signing
// secret or an access key never reaches the log even when it hides inside an error message.

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Query parameters that carry credentials in robot and cloud URLs. */
const SECRET_QUERY =
  /([?&](?:access_token|key|sign|signature|accesskeyid|accesskeysecret)=)[^&\s"'#]*/gi;

/**
 * Removes secrets from text: the values the configuration holds (registered with `setSecrets`)
 * and any credential-looking query parameter.
 */
export class Scrubber {
  private values: string[] = [];
  /** Every secret ever configured: a rotated-away token may still be echoed by a far end. */
  private readonly all = new Set<string>();

  setSecrets(values: Iterable<string>): void {
    const all = this.all;
    for (const v of values) {
      if (v.length < 4) continue; // too short to mask without mangling ordinary text
      all.add(v);
      all.add(encodeURIComponent(v));
    }
    // Longest first so a secret containing another one is masked whole.
    this.values = [...all].sort((a, b) => b.length - a.length);
  }

  scrub(text: string): string {
    let out = text.replace(SECRET_QUERY, '$1[redacted]');
    for (const v of this.values) {
      if (out.includes(v)) out = out.split(v).join('[redacted]');
    }
    return out;
  }
}

export interface Logger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export function createLogger(
  level: Level,
  scrubber: Scrubber,
  write: (line: string) => void = (line) => process.stdout.write(line),
): Logger {
  const min = ORDER[level] ?? ORDER.info;
  const emit = (lvl: Level, fields: Record<string, unknown>, msg: string): void => {
    if (ORDER[lvl] < min) return;
    const line = JSON.stringify({
      level: lvl,
      time: new Date().toISOString(),
      service: 'alert-relay',
      ...fields,
      msg,
    });
    write(scrubber.scrub(line) + '\n');
  };
  return {
    debug: (f, m) => emit('debug', f, m),
    info: (f, m) => emit('info', f, m),
    warn: (f, m) => emit('warn', f, m),
    error: (f, m) => emit('error', f, m),
  };
}

export function parseLevel(value: string | undefined): Level {
  return value === 'debug' || value === 'warn' || value === 'error' ? value : 'info';
}

/** An error's message without stack, scrubbed by the logger later. */
export function errText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const causeText =
      cause instanceof Error ? `: ${(cause as { code?: string }).code ?? cause.message}` : '';
    return `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}${causeText}`;
  }
  return String(err);
}
