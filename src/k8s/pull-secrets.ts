// Registry credentials for a peer pod's images: the pod's `imagePullSecrets` and its service
// account's, merged into one containers-auth.json (`{"auths":{registry:{"auth":base64}}}`,
// containers/image docs/containers-auth.json.5.md) that the user-data delivers to
// /run/peerpod/auth.json, where the pod VM's image pull reads it (CAA
// src/cloud-api-adaptor/pkg/paths/paths.go AuthFilePath).
//
// Secrets are read as kubelet reads them (kubernetes pkg/credentialprovider/secrets/secrets.go
// MakeDockerKeyring): only
// `kubernetes.io/dockerconfigjson` (.dockerconfigjson) and `kubernetes.io/dockercfg` (.dockercfg);
// a secret that is missing or malformed is skipped with a warning naming it, never its content.
// The service account's secrets come first and the pod's own ones override them per registry.
import type { CoreV1Api, V1Secret } from "@kubernetes/client-node";
import type { Logger } from "../log/logger.ts";
import { authJsonFits, AUTH_JSON_LIMIT } from "../userdata/build.ts";
import { apiError } from "./api-error.ts";

export interface RegistryAuth {
  auth?: string;
  identitytoken?: string;
}

export type RegistryAuths = Record<string, RegistryAuth>;

const DOCKER_CONFIG_JSON = { type: "kubernetes.io/dockerconfigjson", key: ".dockerconfigjson" };
const DOCKER_CFG = { type: "kubernetes.io/dockercfg", key: ".dockercfg" };

/**
 * The merged auth.json for a pod, or undefined when it has no usable pull secret (or the pod can't
 * be read). Never throws; failures are logged without secret content. Used by CreateVM and by a
 * warm-pool bind, which pushes the same file.
 */
export async function podAuthJson(
  core: CoreV1Api,
  namespace: string,
  podName: string,
  logger: Logger,
): Promise<string | undefined> {
  const log = logger.child({ pod: podName, namespace });
  let names: string[];
  try {
    names = await pullSecretNames(core, namespace, podName, log);
  } catch (err) {
    log.warn({ api: apiError(err) }, "could not read the pod for its image pull secrets");
    return undefined;
  }
  const merged: RegistryAuths = {};
  for (const name of names) {
    let secret: V1Secret;
    try {
      secret = await core.readNamespacedSecret({ name, namespace });
    } catch (err) {
      log.warn({ pullSecret: name, api: apiError(err) }, `image pull secret ${name} could not be read`);
      continue;
    }
    try {
      Object.assign(merged, secretAuths(secret));
    } catch (err) {
      log.warn({ pullSecret: name }, `image pull secret ${name} is not usable: ${(err as Error).message}`);
    }
  }
  if (Object.keys(merged).length === 0) return undefined;
  const text = renderAuthJson(merged);
  if (!authJsonFits(text)) {
    // Upstream's wording; the file is left out as upstream does.
    log.warn(
      { bytes: Buffer.byteLength(text), limit: AUTH_JSON_LIMIT },
      "Credentials file is too large to be included in cloud-config",
    );
    return undefined;
  }
  log.info({ registries: Object.keys(merged).length }, "image pull credentials added to the user-data");
  return text;
}

/** Service account secrets first (default "default"), then the pod's; each name once. */
async function pullSecretNames(
  core: CoreV1Api,
  namespace: string,
  podName: string,
  log: Logger,
): Promise<string[]> {
  const pod = await core.readNamespacedPod({ name: podName, namespace });
  const account = pod.spec?.serviceAccountName || "default";
  let fromAccount: string[] = [];
  try {
    const sa = await core.readNamespacedServiceAccount({ name: account, namespace });
    fromAccount = (sa.imagePullSecrets ?? []).map((r) => r.name ?? "");
  } catch (err) {
    log.warn({ serviceAccount: account, api: apiError(err) }, "could not read the pod's service account");
  }
  const fromPod = (pod.spec?.imagePullSecrets ?? []).map((r) => r.name ?? "");
  const names = [...fromAccount, ...fromPod].filter((n) => n !== "");
  // A name listed twice keeps its later (pod) position, so the pod's order of precedence holds.
  return names.filter((n, i) => names.lastIndexOf(n) === i);
}

/** The registries of one pull secret; {} for a secret of another type. Throws on malformed data. */
export function secretAuths(secret: V1Secret): RegistryAuths {
  let raw: unknown;
  if (secret.type === DOCKER_CONFIG_JSON.type && secret.data?.[DOCKER_CONFIG_JSON.key] !== undefined) {
    raw = (decodeJson(secret.data[DOCKER_CONFIG_JSON.key], DOCKER_CONFIG_JSON.key) as { auths?: unknown })
      .auths;
  } else if (secret.type === DOCKER_CFG.type && secret.data?.[DOCKER_CFG.key] !== undefined) {
    raw = decodeJson(secret.data[DOCKER_CFG.key], DOCKER_CFG.key);
  } else {
    return {};
  }
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new Error("auths is not an object");
  const out: RegistryAuths = {};
  for (const [registry, entry] of Object.entries(raw as Record<string, unknown>)) {
    const auth = registryAuth(entry);
    if (auth) out[registry] = auth;
  }
  return out;
}

/** `auth` as given, else base64(username:password); an identity token is kept as is. */
function registryAuth(entry: unknown): RegistryAuth | undefined {
  if (entry === null || typeof entry !== "object") return undefined;
  const e = entry as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  const out: RegistryAuth = {};
  const user = str(e.username);
  const auth =
    str(e.auth) ??
    (user !== undefined ? Buffer.from(`${user}:${str(e.password) ?? ""}`).toString("base64") : undefined);
  if (auth !== undefined) out.auth = auth;
  const token = str(e.identitytoken);
  if (token !== undefined) out.identitytoken = token;
  return out.auth !== undefined || out.identitytoken !== undefined ? out : undefined;
}

function decodeJson(b64: string, key: string): unknown {
  try {
    return JSON.parse(Buffer.from(b64, "base64").toString("utf8"));
  } catch {
    throw new Error(`${key} is not base64-encoded JSON`);
  }
}

/** Registries sorted, as Go's encoding/json writes a map. */
export function renderAuthJson(auths: RegistryAuths): string {
  const sorted: RegistryAuths = {};
  for (const k of Object.keys(auths).sort()) sorted[k] = auths[k];
  return JSON.stringify({ auths: sorted });
}
