// Durations as people write them in specs and flags: 1500ms, 30s, 5m, 1h.

const UNIT_SECONDS = { ms: 0.001, s: 1, m: 60, h: 3600 } as const;

/** Seconds in a duration such as "1500ms", "30s", "5m" or "1h"; throws on anything else. */
export function parseDuration(v: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(v);
  if (!m) throw new Error(`not a duration: ${v}`);
  return Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS];
}
