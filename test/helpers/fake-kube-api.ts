// A small HTTP server on 127.0.0.1 that answers like the Kubernetes API for the calls the daemon
// makes: nodes (+ status subresource) with JSON and merge patches, pods, PeerPods with finalizer
// semantics (delete only sets deletionTimestamp while finalizers remain; the object goes once they
// are cleared), Events, Secrets and ServiceAccounts (read-only, for image pull secrets), and
// coordination.k8s.io/v1 Leases with optimistic concurrency (an update whose resourceVersion is
// stale gets 409 Conflict). Failures come back as `Status` objects, as from a real API server.
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

type Json = Record<string, unknown>;

export interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
  ownerReferences?: Json[];
}

export interface FakeNode {
  apiVersion: "v1";
  kind: "Node";
  metadata: Meta & { annotations: Record<string, string> };
  spec: Json;
  status: { capacity: Record<string, string> };
}

export interface PodCondition {
  type: string;
  status: string;
  lastTransitionTime?: string;
}

export interface FakePod {
  apiVersion: "v1";
  kind: "Pod";
  metadata: Meta;
  spec: {
    nodeName?: string;
    runtimeClassName?: string;
    serviceAccountName?: string;
    imagePullSecrets?: { name: string }[];
    containers: Json[];
  };
  status: { conditions: PodCondition[] };
}

export interface FakePeerPod {
  apiVersion: string;
  kind: "PeerPod";
  metadata: Meta;
  spec: { cloudProvider: string; instanceID: string };
}

export interface FakeSecret {
  apiVersion: "v1";
  kind: "Secret";
  metadata: Meta;
  type: string;
  /** Values base64-encoded, as the API serves them. */
  data: Record<string, string>;
}

export interface FakeServiceAccount {
  apiVersion: "v1";
  kind: "ServiceAccount";
  metadata: Meta;
  imagePullSecrets?: { name: string }[];
}

export interface FakeLease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: Meta;
  spec: Json;
}

export interface FakeEvent {
  metadata: Meta;
  involvedObject: Json;
  reason: string;
  message: string;
  type: string;
  source: Json;
  firstTimestamp?: string;
  lastTimestamp?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType?: string;
  authorization?: string;
  body?: unknown;
}

interface Fault {
  method: string;
  path: RegExp;
  status: number;
  times: number;
}

const PP_PREFIX = "/apis/confidentialcontainers.org/v1alpha1";
const LEASE_PREFIX = "/apis/coordination.k8s.io/v1";
export const FAKE_TOKEN = "fake-kube-token";

class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  readonly nodes = new Map<string, FakeNode>();
  /** Pods and PeerPods keyed `namespace/name`. */
  readonly pods = new Map<string, FakePod>();
  readonly peerPods = new Map<string, FakePeerPod>();
  /** Secrets, ServiceAccounts and Leases keyed `namespace/name`. */
  readonly secrets = new Map<string, FakeSecret>();
  readonly serviceAccounts = new Map<string, FakeServiceAccount>();
  readonly leases = new Map<string, FakeLease>();
  readonly events: FakeEvent[] = [];
  private readonly faults: Fault[] = [];
  /** Called for each authorised request before it is served (to change state mid-sequence). */
  onRequest?: (r: RecordedRequest) => void;
  private server?: Server;
  private version = 1;
  url = "";

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  close(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A kubeconfig pointing at this server with a bearer token; returns its path. */
  async writeKubeconfig(dir: string): Promise<string> {
    const path = join(dir, "kubeconfig");
    const config = {
      apiVersion: "v1",
      kind: "Config",
      // client-node refuses plain http unless TLS verification is marked as skipped.
      clusters: [{ name: "fake", cluster: { server: this.url, "insecure-skip-tls-verify": true } }],
      users: [{ name: "fake", user: { token: FAKE_TOKEN } }],
      contexts: [{ name: "fake", context: { cluster: "fake", user: "fake", namespace: "default" } }],
      "current-context": "fake",
    };
    await writeFile(path, JSON.stringify(config));
    return path;
  }

  addNode(name: string, annotations: Record<string, string> = {}): FakeNode {
    const node: FakeNode = {
      apiVersion: "v1",
      kind: "Node",
      metadata: { ...this.meta({ name }), annotations },
      spec: {},
      status: { capacity: { cpu: "4", memory: "16Gi", pods: "110" } },
    };
    this.nodes.set(name, node);
    return node;
  }

  addPod(
    namespace: string,
    name: string,
    opts: {
      nodeName?: string;
      runtimeClassName?: string;
      serviceAccountName?: string;
      imagePullSecrets?: string[];
      ready?: { status: string; lastTransitionTime: string };
    } = {},
  ): FakePod {
    const pod: FakePod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: this.meta({ name, namespace }),
      spec: {
        nodeName: opts.nodeName,
        runtimeClassName: opts.runtimeClassName,
        serviceAccountName: opts.serviceAccountName,
        imagePullSecrets: opts.imagePullSecrets?.map((n) => ({ name: n })),
        containers: [],
      },
      status: { conditions: opts.ready ? [{ type: "Ready", ...opts.ready }] : [] },
    };
    this.pods.set(`${namespace}/${name}`, pod);
    return pod;
  }

  /** A Secret; `data` values are given in clear and stored base64-encoded as the API serves them. */
  addSecret(namespace: string, name: string, type: string, data: Record<string, string>): FakeSecret {
    const encoded: Record<string, string> = {};
    for (const [k, v] of Object.entries(data)) encoded[k] = Buffer.from(v).toString("base64");
    const secret: FakeSecret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: this.meta({ name, namespace }),
      type,
      data: encoded,
    };
    this.secrets.set(`${namespace}/${name}`, secret);
    return secret;
  }

  addServiceAccount(namespace: string, name: string, imagePullSecrets: string[] = []): FakeServiceAccount {
    const sa: FakeServiceAccount = {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: this.meta({ name, namespace }),
      imagePullSecrets: imagePullSecrets.map((n) => ({ name: n })),
    };
    this.serviceAccounts.set(`${namespace}/${name}`, sa);
    return sa;
  }

  /** Make the next `times` matching requests fail with `status`. */
  failNext(method: string, path: RegExp, status = 500, times = 1): void {
    this.faults.push({ method, path, status, times });
  }

  /** Delete a PeerPod the way the API server does (also what the GC does when its Pod goes). */
  deletePeerPod(namespace: string, name: string): FakePeerPod {
    const key = `${namespace}/${name}`;
    const pp = this.peerPods.get(key);
    if (!pp) throw new ApiError(404, "NotFound", `peerpods.confidentialcontainers.org "${name}" not found`);
    if (pp.metadata.finalizers?.length) {
      pp.metadata.deletionTimestamp ??= new Date().toISOString();
      this.touch(pp);
    } else {
      this.peerPods.delete(key);
    }
    return pp;
  }

  private meta(m: { name: string; namespace?: string } & Partial<Meta>): Meta {
    return {
      ...m,
      uid: randomUUID(),
      resourceVersion: String(this.version++),
      creationTimestamp: new Date().toISOString(),
    };
  }

  private touch(obj: { metadata: Meta }): void {
    obj.metadata.resourceVersion = String(this.version++);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const rec: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      contentType: req.headers["content-type"],
      authorization: req.headers.authorization,
    };
    try {
      const text = await readBody(req);
      if (text) rec.body = JSON.parse(text) as unknown;
      this.requests.push(rec);
      if (rec.authorization !== `Bearer ${FAKE_TOKEN}`)
        throw new ApiError(401, "Unauthorized", "Unauthorized");
      this.onRequest?.(rec);
      const fault = this.faults.find((f) => f.method === rec.method && f.path.test(rec.path) && f.times > 0);
      if (fault) {
        fault.times--;
        throw new ApiError(fault.status, "InternalError", "injected failure");
      }
      const [status, body] = this.route(rec);
      send(res, status, body);
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(500, "InternalError", (err as Error).message);
      send(res, e.status, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: e.message,
        reason: e.reason,
        code: e.status,
      });
    }
  }

  private route(r: RecordedRequest): [number, unknown] {
    const p = r.path;
    let m: RegExpExecArray | null;
    if ((m = /^\/api\/v1\/nodes\/([^/]+)(\/status)?$/.exec(p))) return this.node(r, m[1], !!m[2]);
    if (p === "/api/v1/nodes" && r.method === "GET") return [200, this.listNodes()];
    if (p === "/api/v1/pods" && r.method === "GET") return [200, this.listPods(r.query.get("fieldSelector"))];
    if (
      (m = /^\/api\/v1\/namespaces\/([^/]+)\/(secrets|serviceaccounts)\/([^/]+)$/.exec(p)) &&
      r.method === "GET"
    ) {
      const store = m[2] === "secrets" ? this.secrets : this.serviceAccounts;
      return [200, need<unknown>(store.get(`${m[1]}/${m[3]}`), m[2], m[3])];
    }
    if ((m = new RegExp(`^${LEASE_PREFIX}/namespaces/([^/]+)/leases(?:/([^/]+))?$`).exec(p)))
      return this.lease(r, m[1], m[2]);
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(p)) && r.method === "GET")
      return [200, need(this.pods.get(`${m[1]}/${m[2]}`), "pods", m[2])];
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(p)) && r.method === "POST")
      return this.createEvent(m[1], r.body);
    if (p === `${PP_PREFIX}/peerpods` && r.method === "GET") return [200, this.listPeerPods()];
    if ((m = new RegExp(`^${PP_PREFIX}/namespaces/([^/]+)/peerpods(?:/([^/]+))?$`).exec(p)))
      return this.peerPod(r, m[1], m[2]);
    throw new ApiError(
      404,
      "NotFound",
      `the server could not find the requested resource (${r.method} ${p})`,
    );
  }

  private node(r: RecordedRequest, name: string, status: boolean): [number, unknown] {
    const node = need(this.nodes.get(name), "nodes", name);
    if (r.method === "GET") return [200, node];
    if (r.method !== "PATCH") throw new ApiError(405, "MethodNotAllowed", `${r.method} not allowed`);
    const patched = applyPatch(node, r.contentType, r.body) as FakeNode;
    // A status patch changes only .status, a main-resource patch everything but .status.
    if (status) node.status = patched.status;
    else Object.assign(node, { ...patched, status: node.status });
    this.touch(node);
    return [200, node];
  }

  private listNodes(): Json {
    return { apiVersion: "v1", kind: "NodeList", metadata: {}, items: [...this.nodes.values()] };
  }

  /** GET, POST (create) and PUT (update, conditional on metadata.resourceVersion) of a Lease. */
  private lease(r: RecordedRequest, namespace: string, name?: string): [number, unknown] {
    const body = r.body as Partial<FakeLease> | undefined;
    if (!name) {
      if (r.method !== "POST") throw new ApiError(405, "MethodNotAllowed", `${r.method} not allowed`);
      const key = `${namespace}/${body?.metadata?.name}`;
      if (!body?.metadata?.name)
        throw new ApiError(422, "Invalid", "Lease is invalid: metadata.name required");
      if (this.leases.has(key))
        throw new ApiError(
          409,
          "AlreadyExists",
          `leases.coordination.k8s.io "${body.metadata.name}" already exists`,
        );
      const lease: FakeLease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: this.meta({ name: body.metadata.name, namespace }),
        spec: body.spec ?? {},
      };
      this.leases.set(key, lease);
      return [201, lease];
    }
    const key = `${namespace}/${name}`;
    const lease = need(this.leases.get(key), "leases.coordination.k8s.io", name);
    if (r.method === "GET") return [200, lease];
    if (r.method !== "PUT") throw new ApiError(405, "MethodNotAllowed", `${r.method} not allowed`);
    if (body?.metadata?.resourceVersion !== lease.metadata.resourceVersion)
      throw new ApiError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    lease.spec = body.spec ?? {};
    this.touch(lease);
    return [200, lease];
  }

  private listPods(fieldSelector: string | null): Json {
    const node = fieldSelector?.match(/^spec\.nodeName=(.*)$/)?.[1];
    const items = [...this.pods.values()].filter((p) => node === undefined || p.spec.nodeName === node);
    return { apiVersion: "v1", kind: "PodList", metadata: {}, items };
  }

  private createEvent(namespace: string, raw: unknown): [number, unknown] {
    const body = raw as Partial<FakeEvent> | undefined;
    if (!body?.metadata?.name || !body.involvedObject) throw new ApiError(422, "Invalid", "Event is invalid");
    if (body.metadata.namespace && body.metadata.namespace !== namespace)
      throw new ApiError(
        400,
        "BadRequest",
        "the namespace of the object does not match the namespace on the request",
      );
    const ev = {
      ...(body as FakeEvent),
      apiVersion: "v1",
      kind: "Event",
      metadata: this.meta({ ...body.metadata, namespace }),
    };
    this.events.push(ev);
    return [201, ev];
  }

  private listPeerPods(namespace?: string): Json {
    const items = [...this.peerPods.values()].filter((p) => !namespace || p.metadata.namespace === namespace);
    return { apiVersion: "confidentialcontainers.org/v1alpha1", kind: "PeerPodList", metadata: {}, items };
  }

  private peerPod(r: RecordedRequest, namespace: string, name?: string): [number, unknown] {
    if (!name) {
      if (r.method === "GET") return [200, this.listPeerPods(namespace)];
      if (r.method !== "POST") throw new ApiError(405, "MethodNotAllowed", `${r.method} not allowed`);
      const body = r.body as Partial<FakePeerPod> | undefined;
      const key = `${namespace}/${body?.metadata?.name}`;
      if (!body?.metadata?.name || body.kind !== "PeerPod")
        throw new ApiError(422, "Invalid", "PeerPod is invalid");
      if (this.peerPods.has(key))
        throw new ApiError(409, "AlreadyExists", `peerpods "${body.metadata.name}" already exists`);
      const pp = { ...(body as FakePeerPod), metadata: this.meta({ ...body.metadata, namespace }) };
      this.peerPods.set(key, pp);
      return [201, pp];
    }
    const key = `${namespace}/${name}`;
    const pp = need(this.peerPods.get(key), "peerpods", name);
    if (r.method === "GET") return [200, pp];
    if (r.method === "DELETE") return [200, this.deletePeerPod(namespace, name)];
    if (r.method !== "PATCH") throw new ApiError(405, "MethodNotAllowed", `${r.method} not allowed`);
    const patched = applyPatch(pp, r.contentType, r.body) as FakePeerPod;
    this.peerPods.set(key, patched);
    this.touch(patched);
    if (patched.metadata.deletionTimestamp && !patched.metadata.finalizers?.length) this.peerPods.delete(key);
    return [200, patched];
  }
}

function need<T>(obj: T | undefined, resource: string, name: string): T {
  if (!obj) throw new ApiError(404, "NotFound", `${resource} "${name}" not found`);
  return obj;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function applyPatch(target: object, contentType: string | undefined, patch: unknown): unknown {
  const doc = structuredClone(target) as Json;
  const type = contentType?.split(";")[0].trim();
  if (type === "application/json-patch+json") return jsonPatch(doc, patch);
  if (type === "application/merge-patch+json") return mergePatch(doc, patch);
  throw new ApiError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format: ${type}`,
  );
}

interface PatchOp {
  op: string;
  path: string;
  value?: unknown;
}

type Container = Json | unknown[];

function isContainer(v: unknown): v is Container {
  return v !== null && typeof v === "object";
}

/** RFC 6902 add/remove/replace/test; any failure is a 422 like the API server's. */
export function jsonPatch(doc: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw new ApiError(400, "BadRequest", "json patch must be an array");
  for (const op of ops as PatchOp[]) {
    const invalid = (why: string) =>
      new ApiError(422, "Invalid", `jsonpatch ${op.op} operation does not apply: ${why}: ${op.path}`);
    const parts = String(op.path)
      .split("/")
      .slice(1)
      .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
    const last = parts.pop();
    if (last === undefined) throw invalid("empty path");
    let parent: Container = doc;
    for (const part of parts) {
      const next: unknown = (parent as Json)[part];
      if (!isContainer(next)) throw invalid("doc is missing path");
      parent = next;
    }
    const arr = Array.isArray(parent) ? parent : undefined;
    const obj = parent as Json;
    const has = last in obj;
    switch (op.op) {
      case "add":
        if (arr && last === "-") arr.push(op.value);
        else obj[last] = op.value;
        break;
      case "replace":
        if (!has) throw invalid("doc is missing key");
        obj[last] = op.value;
        break;
      case "remove":
        if (!has) throw invalid("doc is missing key");
        if (arr) arr.splice(Number(last), 1);
        else delete obj[last];
        break;
      case "test":
        if (!has || JSON.stringify(obj[last]) !== JSON.stringify(op.value))
          throw new ApiError(422, "Invalid", `testing value ${op.path} failed`);
        break;
      default:
        throw new ApiError(422, "Invalid", `unsupported json patch op ${op.op}`);
    }
  }
  return doc;
}

/** RFC 7386. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Json = isContainer(target) && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch as Json)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
