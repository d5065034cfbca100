// Reading apf.json as APF's json.Unmarshal into forwarder.Config does: unknown keys ignored,
// keys matched case-insensitively when no exact match, null leaves a field at its zero value,
// wrong JSON types are errors, and route protocol/scope and neighbour state must be known
// names (a number, "" or null makes upstream's forwarder exit; docs/upstream-compat.md §4.4).
import { isIP } from "node:net";
import {
  NEIGHBOR_STATES,
  ROUTE_PROTOCOLS,
  ROUTE_SCOPES,
  type ApfConfig,
  type ApfNeighbor,
  type ApfRoute,
  type NeighborState,
  type PodNetworkConfig,
  type RouteProtocol,
  type RouteScope,
} from "./apf-types.ts";

export class ApfConfigError extends Error {
  override name = "ApfConfigError";
}

type Obj = Record<string, unknown>;

export function parseApfJson(text: string): ApfConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ApfConfigError(`apf.json is not valid JSON: ${(err as Error).message}`);
  }
  if (doc === null) return { "pod-network": null, "pod-namespace": "", "pod-name": "" };
  const f = fields(doc, "apf.json", [
    "pod-network",
    "pod-namespace",
    "pod-name",
    "tls-server-key",
    "tls-server-cert",
    "tls-client-ca",
    "tls-min-version",
    "tls-cipher-suites",
    "sc-pp-prv",
    "sc-wn-pub",
  ]);
  const cfg: ApfConfig = {
    "pod-network": f.get("pod-network") == null ? null : podNetwork(f.get("pod-network"), "pod-network"),
    "pod-namespace": str(f.get("pod-namespace"), "pod-namespace"),
    "pod-name": str(f.get("pod-name"), "pod-name"),
  };
  for (const key of ["tls-server-key", "tls-server-cert", "tls-client-ca", "tls-min-version"] as const) {
    const v = str(f.get(key), key);
    if (v !== "") cfg[key] = v;
  }
  const suites = f.get("tls-cipher-suites");
  if (suites != null) cfg["tls-cipher-suites"] = arr(suites, "tls-cipher-suites", str);
  for (const key of ["sc-pp-prv", "sc-wn-pub"] as const) {
    const v = str(f.get(key), key);
    if (v !== "" && !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) fail(key, "must be base64");
    if (v !== "") cfg[key] = v;
  }
  return cfg;
}

function podNetwork(v: unknown, at: string): PodNetworkConfig {
  const f = fields(v, at, [
    "podip",
    "pod-hw-addr",
    "interface",
    "worker-node-ip",
    "tunnel-type",
    "routes",
    "neighbors",
    "mtu",
    "index",
    "vxlan-port",
    "vxlan-id",
    "dedicated",
    "external-net-via-pod-vm",
  ]);
  const routes = f.get("routes");
  const neighbors = f.get("neighbors");
  const pn: PodNetworkConfig = {
    podip: prefix(f.get("podip"), `${at}.podip`),
    "pod-hw-addr": str(f.get("pod-hw-addr"), `${at}.pod-hw-addr`),
    interface: str(f.get("interface"), `${at}.interface`),
    "worker-node-ip": prefix(f.get("worker-node-ip"), `${at}.worker-node-ip`),
    "tunnel-type": str(f.get("tunnel-type"), `${at}.tunnel-type`),
    routes: routes === null || routes === undefined ? null : arr(routes, `${at}.routes`, route),
    neighbors:
      neighbors === null || neighbors === undefined ? null : arr(neighbors, `${at}.neighbors`, neighbor),
    mtu: int(f.get("mtu"), `${at}.mtu`),
    index: int(f.get("index"), `${at}.index`),
    dedicated: bool(f.get("dedicated"), `${at}.dedicated`),
    "external-net-via-pod-vm": bool(f.get("external-net-via-pod-vm"), `${at}.external-net-via-pod-vm`),
  };
  const port = int(f.get("vxlan-port"), `${at}.vxlan-port`);
  const vni = int(f.get("vxlan-id"), `${at}.vxlan-id`);
  if (port !== 0) pn["vxlan-port"] = port;
  if (vni !== 0) pn["vxlan-id"] = vni;
  return pn;
}

function route(v: unknown, at: string): ApfRoute {
  const f = fields(v, at, ["dst", "gw", "dev", "protocol", "scope"]);
  const r: ApfRoute = {
    dst: prefix(f.get("dst"), `${at}.dst`),
    gw: addr(f.get("gw"), `${at}.gw`),
    dev: str(f.get("dev"), `${at}.dev`),
  };
  if (f.has("protocol"))
    r.protocol = named<RouteProtocol>(f.get("protocol"), `${at}.protocol`, "route protocol", ROUTE_PROTOCOLS);
  if (f.has("scope")) r.scope = named<RouteScope>(f.get("scope"), `${at}.scope`, "route scope", ROUTE_SCOPES);
  return r;
}

function neighbor(v: unknown, at: string): ApfNeighbor {
  const f = fields(v, at, ["ip", "hw-addr", "dev", "state"]);
  return {
    ip: addr(f.get("ip"), `${at}.ip`),
    "hw-addr": str(f.get("hw-addr"), `${at}.hw-addr`),
    dev: str(f.get("dev"), `${at}.dev`),
    state: f.has("state")
      ? named<NeighborState>(f.get("state"), `${at}.state`, "neighbor state", NEIGHBOR_STATES)
      : "none",
  };
}

/** Go's field matching: exact key first, else ASCII case-insensitive; a later duplicate wins. */
function fields(v: unknown, at: string, known: readonly string[]): Map<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(at, "must be a JSON object");
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(v as Obj)) {
    const target = known.includes(key) ? key : known.find((k) => k.toLowerCase() === key.toLowerCase());
    if (target !== undefined) out.set(target, value);
  }
  return out;
}

function named<T extends string>(v: unknown, at: string, what: string, names: readonly T[]): T {
  if (typeof v !== "string") {
    fail(at, `invalid ${what}: ${JSON.stringify(v)} (a name is required, one of ${names.join(", ")})`);
  }
  if (!(names as readonly string[]).includes(v)) {
    fail(at, `unknown ${what}: ${JSON.stringify(v)} (expected one of ${names.join(", ")})`);
  }
  return v as T;
}

function str(v: unknown, at: string): string {
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") fail(at, `expected a string, got ${typeName(v)}`);
  return v;
}

function int(v: unknown, at: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) fail(at, `expected an integer, got ${typeName(v)}`);
  return v;
}

function bool(v: unknown, at: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") fail(at, `expected a boolean, got ${typeName(v)}`);
  return v;
}

function arr<T>(v: unknown, at: string, item: (x: unknown, at: string) => T): T[] {
  if (!Array.isArray(v)) fail(at, `expected an array, got ${typeName(v)}`);
  return (v as unknown[]).map((x, i) => item(x, `${at}[${i}]`));
}

/** netip.Addr text: "" is the zero address. */
function addr(v: unknown, at: string): string {
  const s = str(v, at);
  if (s !== "" && isIP(s) === 0) fail(at, `invalid IP address ${JSON.stringify(s)}`);
  return s;
}

/** netip.Prefix text "<addr>/<bits>": "" is the zero prefix. */
function prefix(v: unknown, at: string): string {
  const s = str(v, at);
  if (s === "") return s;
  const slash = s.lastIndexOf("/");
  const family = slash < 0 ? 0 : isIP(s.slice(0, slash));
  const bits = s.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (family === 0 || s.includes("%") || !/^(0|[1-9][0-9]{0,2})$/.test(bits) || Number(bits) > max) {
    fail(at, `invalid IP prefix ${JSON.stringify(s)}`);
  }
  return s;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v === "object" ? "object" : `${typeof v} ${JSON.stringify(v)}`;
}

function fail(at: string, msg: string): never {
  throw new ApfConfigError(`apf.json: ${at}: ${msg}`);
}
