// Kubernetes resource quantities as plain numbers: CPU in cores, memory in bytes.

const SUFFIX: Record<string, number> = {
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** 250m -> 0.25, 128Mi -> 134217728, 1G -> 1e9, 0.5 -> 0.5. */
export function quantityValue(q: number | string): number {
  if (typeof q === 'number') return q;
  const m = /^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$/.exec(q.trim());
  const factor = m ? (m[2] === '' ? 1 : SUFFIX[m[2]!]) : undefined;
  if (!m || factor === undefined) throw new RangeError(`not a Kubernetes quantity: ${q}`);
  return Number(m[1]) * factor;
}
