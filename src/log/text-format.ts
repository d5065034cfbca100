// Upstream's log line shape, `YYYY/MM/DD HH:MM:SS [component] message` (Go log with LstdFlags |
// Lmsgprefix). The upstream e2e suite greps CAA's log for such lines (docs/upstream-compat.md §10), so this
// is the default; LOG_FORMAT=json gives pino's JSON. Fields follow the message as key=value.
import type { LineSink } from "./line-batch.ts";

const LEVELS: Record<number, string> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};
const SKIP = new Set(["level", "time", "msg", "component", "name", "pid", "hostname"]);

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

let stampSecond = -1;
let stampText = "";

export function goTimestamp(d: Date): string {
  // One line in a burst shares its second with the previous one: format each second once.
  const second = Math.floor(d.getTime() / 1000);
  if (second === stampSecond) return stampText;
  stampSecond = second;
  stampText = `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return stampText;
}

function fieldText(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

/**
 * Control characters in the message (a pod name with a newline, say) are escaped, so every entry
 * stays one line and no caller-supplied text can forge a line of its own.
 */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1));
}

export function formatLine(entry: Record<string, unknown>): string {
  const time = new Date(typeof entry.time === "number" ? entry.time : Date.now());
  const component = typeof entry.component === "string" ? oneLine(entry.component) : "adaptor";
  const level = typeof entry.level === "number" ? entry.level : 30;
  const prefix = level >= 40 ? `${LEVELS[level]}: ` : "";
  const fields = Object.entries(entry)
    .filter(([k, v]) => !SKIP.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${fieldText(v)}`)
    .join(" ");
  const msg = typeof entry.msg === "string" ? oneLine(entry.msg) : "";
  return `${goTimestamp(time)} [${component}] ${prefix}${msg}${fields ? ` ${fields}` : ""}\n`;
}

/**
 * A pino destination that writes upstream-style text lines to `out`: a plain `write`, which is all
 * pino asks of a destination (a Writable in between cost a stream's bookkeeping per line).
 */
export function textDestination(out: LineSink = process.stderr): {
  write(chunk: string): void;
  writeEntry(entry: Record<string, unknown>): void;
} {
  return {
    // pino-lite hands over the entry itself: no JSON line to build and parse again.
    writeEntry(entry: Record<string, unknown>) {
      out.write(formatLine(entry));
    },
    write(chunk: string) {
      for (const line of chunk.split("\n")) {
        if (line === "") continue;
        let text: string;
        try {
          text = formatLine(JSON.parse(line) as Record<string, unknown>);
        } catch {
          text = line + "\n";
        }
        out.write(text);
      }
    },
  };
}
