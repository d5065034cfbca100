// Kubernetes resource quantities (k8s.io/apimachinery pkg/api/resource/quantity.go): a decimal
// number with a binary (Ki…Ei), decimal (n, u, m, k, M…E) or exponent (e3) suffix. Parsed to a
// plain number of base units; the webhook only needs them to round up to vCPUs and MiB.

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
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

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/;

export class QuantityError extends Error {
  override name = "QuantityError";
}

/** Base units of a quantity ("500m" → 0.5, "1Gi" → 1073741824). Throws QuantityError. */
export function parseQuantity(text: unknown): number {
  if (typeof text === "number" && Number.isFinite(text)) return text;
  const m = typeof text === "string" ? QUANTITY.exec(text.trim()) : null;
  if (!m) throw new QuantityError(`quantities must match the regular expression: ${JSON.stringify(text)}`);
  const value = Number(m[1]) * (m[2] !== undefined ? 10 ** Number(m[2].slice(1)) : SUFFIX[m[3] ?? ""]);
  if (value < 0) throw new QuantityError(`negative quantity ${JSON.stringify(text)}`);
  return value;
}
