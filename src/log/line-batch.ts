// Log lines handed to the destination once per turn of the event loop instead of one write each:
// a burst of sandboxes logs ~10 lines apiece, and every write to stderr is a syscall that wakes
// its reader (containerd's log pipe, a test's socket). Lines logged before an exit are written by
// the exit handler, so a fatal line and the ones before it are never lost; a kill -9 loses at most
// the lines of the turn it interrupts.
const FLUSH_AT = 64 * 1024;

export interface LineSink {
  write(chunk: string): unknown;
}

export function batchLines(out: LineSink): LineSink & { flush(): void } {
  let parts: string[] = [];
  let size = 0;
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (parts.length === 0) return;
    const text = parts.join("");
    parts = [];
    size = 0;
    out.write(text);
  };
  process.on("exit", flush);
  return {
    write(chunk: string) {
      parts.push(chunk);
      size += chunk.length;
      if (size >= FLUSH_AT) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush).unref();
      }
      return true;
    },
    flush,
  };
}
