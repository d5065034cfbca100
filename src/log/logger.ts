// Structured logs (pino), one line per event, with sandbox/pod/stage/instance fields.
// Credentials, keys and user-data are redacted wherever they appear under these names.
import { pino, type Logger } from "pino";
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

export function createLogger(
  opts: { level?: string; format?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  const out = opts.destination ?? process.stderr;
  return pino(
    {
      level: opts.level ?? "info",
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      base: undefined,
    },
    opts.format === "json" ? out : textDestination(out),
  );
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
