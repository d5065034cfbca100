/**
 * A duration as Go writes it, without zero units: 5m, 30s, 1m30s, 1h, 1.5s, 250ms (Go itself would print
 * 5m0s; the short form is what operators type in PROXY_TIMEOUT).
 */
export function formatGoDuration(ms: number): string {
  if (ms < 1000) return `${round(ms, 3)}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = round((ms % 60_000) / 1000, 3);
  let out = "";
  if (h > 0) out += `${h}h`;
  if (m > 0) out += `${m}m`;
  if (s > 0) out += `${s}s`;
  return out;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
