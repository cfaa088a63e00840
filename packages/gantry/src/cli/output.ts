// Output helpers shared by commands: human text or machine JSON (-o json).
export type OutputFormat = 'text' | 'json';

export function parseFormat(v: string | undefined): OutputFormat {
  if (v === undefined || v === 'text') return 'text';
  if (v === 'json') return 'json';
  throw new UsageError(`unknown output format "${v}" (use text or json)`);
}

/** Bad usage detected after parsing (exit code 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
