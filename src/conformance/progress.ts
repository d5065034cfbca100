// Progress lines while the suite runs: one when a case starts, indented steps, one with its result.
import type { Writable } from "node:stream";
import { formatDuration } from "./table.ts";
import type { CaseResult } from "./types.ts";

export class Progress {
  private readonly out: Writable;
  private readonly total: number;
  private index = 0;

  constructor(out: Writable, total: number) {
    this.out = out;
    this.total = total;
  }

  line(text: string): void {
    this.out.write(`${text}\n`);
  }

  started(id: string, title: string): void {
    this.index++;
    this.line(`${this.tag(id)} ${title} …`);
  }

  step(message: string): void {
    this.line(`      · ${message}`);
  }

  finished(r: CaseResult): void {
    const head = `${this.tag(r.id)} ${r.status.toUpperCase()} (${formatDuration(r.durationMs)})`;
    if (r.status !== "fail") {
      this.line(`${head} ${r.summary}`);
      return;
    }
    this.line(head);
    for (const l of (r.detail ?? r.summary).split("\n")) this.line(`      ${l}`);
  }

  private tag(id: string): string {
    return `[${this.index}/${this.total}] ${id}:`;
  }
}
