// `caa webhook`: the mutating admission webhook for peer pods over HTTPS (fastify). It answers
// AdmissionReview v1 (k8s.io/api admission/v1) on /mutate-v1-pod, upstream's path and port 9443
// (CAA src/webhook/chart/templates/webhook-config.yaml). A review that is not one gets HTTP 400
// with a message; a review of a pod that can't be sized gets `allowed: false` with the reason.
import type { Server as TlsServer } from "node:tls";
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "../log/logger.ts";
import { mutatePod, type MutateConfig } from "./mutate.ts";

export const WEBHOOK_PATH = "/mutate-v1-pod";
const API_VERSION = "admission.k8s.io/v1";
/** AdmissionReview bodies are pods; the API server caps requests at 3 MiB. */
const BODY_LIMIT = 3 * 1024 * 1024;

export interface WebhookServerOptions extends MutateConfig {
  port: number;
  host?: string;
  /** PEM server certificate (chain) and key. */
  cert: string;
  key: string;
  logger: Logger;
}

export interface WebhookServer {
  /** `https://host:port`. */
  address: string;
  /** Swap the serving certificate (cert-manager renewed it). */
  setCertificate(cert: string, key: string): void;
  close(): Promise<void>;
}

interface AdmissionRequest {
  uid?: unknown;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  namespace?: string;
  name?: string;
  object?: unknown;
}

class BadReview extends Error {}

function reviewRequest(body: unknown): AdmissionRequest & { uid: string } {
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw new BadReview("body is not an AdmissionReview object");
  const review = body as { apiVersion?: unknown; kind?: unknown; request?: AdmissionRequest };
  if (review.kind !== "AdmissionReview" || review.apiVersion !== API_VERSION)
    throw new BadReview(`expected kind AdmissionReview, apiVersion ${API_VERSION}`);
  const req = review.request;
  if (req === null || typeof req !== "object") throw new BadReview("AdmissionReview has no request");
  if (typeof req.uid !== "string" || req.uid === "")
    throw new BadReview("AdmissionReview request has no uid");
  return req as AdmissionRequest & { uid: string };
}

export function buildWebhookApp(
  opts: WebhookServerOptions,
  https: { cert: string; key: string } | null,
): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    ...(https ? { https } : {}),
  }) as FastifyInstance;
  const log = opts.logger.child({ component: "webhook" });
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const code =
      err instanceof BadReview ? 400 : err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (code >= 500) log.error({ err }, "admission request failed");
    return reply.code(code).send({ error: code >= 500 ? "internal error" : err.message });
  });
  app.get("/healthz", async () => ({ ok: true }));
  app.post(WEBHOOK_PATH, async (request) => {
    const req = reviewRequest(request.body);
    const review = (response: Record<string, unknown>) => ({
      apiVersion: API_VERSION,
      kind: "AdmissionReview",
      response: { uid: req.uid, ...response },
    });
    if (req.kind?.kind !== undefined && req.kind.kind !== "Pod") return review({ allowed: true });
    if (req.operation !== undefined && req.operation !== "CREATE") return review({ allowed: true });
    const d = mutatePod(req.object, opts);
    const fields = { uid: req.uid, pod: req.name, namespace: req.namespace };
    if (!d.allowed) {
      log.warn({ ...fields, reason: d.message }, "peer pod refused");
      return review({ allowed: false, status: { code: d.code, message: d.message } });
    }
    if (d.patch.length === 0) return review({ allowed: true });
    log.info({ ...fields, instanceType: d.instanceType }, "peer pod mutated");
    return review({
      allowed: true,
      patchType: "JSONPatch",
      patch: Buffer.from(JSON.stringify(d.patch)).toString("base64"),
    });
  });
  return app;
}

export async function startWebhook(opts: WebhookServerOptions): Promise<WebhookServer> {
  const app = buildWebhookApp(opts, { cert: opts.cert, key: opts.key });
  const address = await app.listen({ port: opts.port, host: opts.host ?? "0.0.0.0" });
  opts.logger.info({ address, path: WEBHOOK_PATH }, "admission webhook listening");
  // fastify's https server is a tls.Server; its type says http.Server.
  const server = app.server as unknown as TlsServer;
  return {
    address,
    setCertificate: (cert, key) => server.setSecureContext({ cert, key }),
    close: () => app.close(),
  };
}
