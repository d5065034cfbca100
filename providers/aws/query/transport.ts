// One HTTP(S) POST to the EC2 endpoint, with the SDK's timeouts (connection, and the whole
// request, each failing with a TimeoutError as @smithy/node-http-handler does) and its socket
// pool (keep-alive, at most 50 sockets per host: the SDK's default), over node:http directly.
import http from "node:http";
import https from "node:https";

export interface Timeouts {
  /** No connection within this many ms fails the attempt. */
  connectMs: number;
  /** An answer not complete this many ms after the request started fails the attempt. */
  requestMs: number;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** EC2's answers are a few KiB; a page of 1000 instances stays well below this. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
const MAX_SOCKETS = 50;

function timeoutError(message: string): Error {
  return Object.assign(new Error(message), { name: "TimeoutError", code: "ETIMEDOUT" });
}

export class Transport {
  readonly #http = new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  readonly #https = new https.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  readonly #timeouts: Timeouts;

  constructor(timeouts: Timeouts) {
    this.#timeouts = timeouts;
  }

  post(url: URL, headers: Record<string, string>, body: string, signal?: AbortSignal): Promise<Answer> {
    const secure = url.protocol === "https:";
    const { connectMs, requestMs } = this.#timeouts;
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(
        {
          protocol: url.protocol,
          hostname: url.hostname.replace(/^\[|\]$/g, ""),
          port: url.port || (secure ? 443 : 80),
          path: url.pathname || "/",
          method: "POST",
          agent: secure ? this.#https : this.#http,
          headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
          ...(signal ? { signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER_BYTES)
              req.destroy(new Error(`EC2 answer larger than ${MAX_ANSWER_BYTES} bytes`));
            else chunks.push(c);
          });
          res.on("error", reject);
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString("utf8"),
            }),
          );
        },
      );
      req.on("error", reject);
      req.on("socket", (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(
          () =>
            req.destroy(
              timeoutError(
                `the request socket did not establish a connection with the server within the configured timeout of ${connectMs} ms`,
              ),
            ),
          connectMs,
        );
        const done = (): void => clearTimeout(timer);
        socket.once(secure ? "secureConnect" : "connect", done);
        socket.once("close", done);
      });
      // The whole exchange, as the SDK's requestTimeout with throwOnRequestTimeout (client.ts).
      const deadline = setTimeout(
        () =>
          req.destroy(timeoutError(`a request has exceeded the configured ${requestMs} ms requestTimeout`)),
        requestMs,
      );
      req.once("close", () => clearTimeout(deadline));
      req.end(body);
    });
  }

  destroy(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}
