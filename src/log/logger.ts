// Structured logs (pino), one line per event, with sandbox/pod/stage/instance fields.
// Credentials, keys and user-data are redacted wherever they appear under these names.
import { pino, type Logger } from "pino";

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
  opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {},
): Logger {
  return pino(
    {
      name: opts.name ?? "caa",
      level: opts.level ?? process.env.LOG_LEVEL ?? "info",
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      base: undefined,
    },
    opts.destination,
  );
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
