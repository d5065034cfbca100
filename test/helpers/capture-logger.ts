// A pino logger whose lines are kept in memory, for tests that check what was logged.
import { Writable } from "node:stream";
import { pino } from "pino";
import { REDACT_PATHS, type Logger } from "../../src/log/logger.ts";

export interface CapturedLogger {
  logger: Logger;
  lines: Record<string, unknown>[];
  /** Log records whose msg contains `text`. */
  find(text: string): Record<string, unknown>[];
}

export function captureLogger(): CapturedLogger {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n"))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  // JSON lines with the daemon's redaction rules.
  const logger = pino(
    { level: "debug", redact: { paths: REDACT_PATHS, censor: "[redacted]" }, base: undefined },
    destination,
  );
  return { logger, lines, find: (text) => lines.filter((l) => String(l.msg).includes(text)) };
}
