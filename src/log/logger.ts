// Structured logs (pino's lines and API), one line per event, with sandbox/pod/stage/instance fields.
// Credentials, keys and user-data are redacted wherever they appear under these names. Written by
// pino-lite.ts, which writes what pino writes (test/unit/pino-lite.test.ts), for ~20 µs of CPU a line
// where pino (most of it its redaction of these paths) took ~50; the daemon logs ~10 per sandbox.
import type { Logger } from "pino";
import { batchLines, type LineSink } from "./line-batch.ts";
import { pino } from "./pino-lite.ts";
import { textDestination } from "./text-format.ts";

export type { Logger };

export const REDACT_PATHS = [
  "userData",
  "*.userData",
  "key",
  "*.key",
  "privateKey",
  "*.privateKey",
  "tls-server-key",
  "*.tls-server-key",
  "secret",
  "*.secret",
  "password",
  "*.password",
  "credentials",
  "*.credentials",
  "accessKeyId",
  "secretAccessKey",
  "sessionToken",
  "*.secretAccessKey",
  "*.sessionToken",
  "clientSecret",
  "*.clientSecret",
  "authorization",
  "*.authorization",
  "headers.authorization",
];

let stderrLines: LineSink | undefined;

export function createLogger(
  opts: { level?: string; format?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  // stderr gets a turn's lines in one write (line-batch.ts), through one buffer for every logger of
  // the process, so their lines keep their order; a given destination gets each line at once.
  const out = opts.destination ?? (stderrLines ??= batchLines(process.stderr));
  return pino(
    {
      level: opts.level ?? "info",
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      base: undefined,
    },
    opts.format === "json" ? out : textDestination(out),
  ) as unknown as Logger;
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: "silent" }) as unknown as Logger;
}
