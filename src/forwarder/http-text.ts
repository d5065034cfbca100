// One plain-HTTP request whose answer is text, for the metadata services (imds.ts). node:http, not
// fetch(): fetch loads undici, 6.5 MiB that would stay resident in every cloud pod VM's forwarder
// after its one user-data fetch; node:http costs 1.8 MiB (footprint rig, 2026-12-02), and loads only
// when a metadata service is asked (not for user-data from a cidata volume).

export interface TextAnswer {
  status: number;
  text: string;
}

/** Answers larger than this are refused: user-data is at most 64 KiB on AWS and Azure. */
const MAX_ANSWER_BYTES = 1 << 20;

export function httpText(
  url: URL,
  opts: { method?: string; headers?: Record<string, string>; signal: AbortSignal },
): Promise<TextAnswer> {
  // Not import(), which in the pod-VM bundle goes through the ES module loader (exec.ts says why).
  const http = process.getBuiltinModule("node:http");
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: opts.method ?? "GET",
      headers: opts.headers,
      signal: opts.signal,
    });
    req.once("error", reject);
    req.once("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`answer of ${url.pathname} is over 1 MiB`));
        else chunks.push(chunk);
      });
      res.once("error", reject);
      res.once("end", () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
      );
    });
    req.end();
  });
}
