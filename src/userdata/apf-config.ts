// apf.json, the agent-protocol-forwarder's config: upstream forwarder.Config and tunneler.Config
// (CAA pkg/forwarder/forwarder.go, pkg/podnetwork/tunneler/tunneler.go; docs/upstream-compat.md §4.4).
// Keys, order and omitempty rules follow the Go structs; the text is json.MarshalIndent(cfg, "", "    ").
import { goMarshalIndent, type GoJsonValue } from "./go-json.ts";
import type { ApfConfig, ApfNeighbor, ApfRoute, PodNetworkConfig } from "./apf-types.ts";

export * from "./apf-types.ts";
export { parseApfJson, ApfConfigError } from "./apf-parse.ts";

export function renderApfJson(cfg: ApfConfig): string {
  return goMarshalIndent(toGo(cfg), "    ");
}

function toGo(cfg: ApfConfig): GoJsonValue {
  const pn = cfg["pod-network"];
  const out: Record<string, GoJsonValue> = {
    "pod-network": pn === null ? null : podNetwork(pn),
    "pod-namespace": cfg["pod-namespace"],
    "pod-name": cfg["pod-name"],
  };
  setString(out, "tls-server-key", cfg["tls-server-key"]);
  setString(out, "tls-server-cert", cfg["tls-server-cert"]);
  setString(out, "tls-client-ca", cfg["tls-client-ca"]);
  setString(out, "tls-min-version", cfg["tls-min-version"]);
  const suites = cfg["tls-cipher-suites"];
  if (suites !== undefined && suites.length > 0) out["tls-cipher-suites"] = suites;
  setString(out, "sc-pp-prv", cfg["sc-pp-prv"]);
  setString(out, "sc-wn-pub", cfg["sc-wn-pub"]);
  return out;
}

function podNetwork(pn: PodNetworkConfig): GoJsonValue {
  const out: Record<string, GoJsonValue> = {
    podip: pn.podip,
    "pod-hw-addr": pn["pod-hw-addr"],
    interface: pn.interface,
    "worker-node-ip": pn["worker-node-ip"],
    "tunnel-type": pn["tunnel-type"],
    routes: pn.routes === null ? null : pn.routes.map(route),
    neighbors: pn.neighbors === null ? null : pn.neighbors.map(neighbor),
    mtu: pn.mtu,
    index: pn.index,
  };
  if (pn["vxlan-port"]) out["vxlan-port"] = pn["vxlan-port"];
  if (pn["vxlan-id"]) out["vxlan-id"] = pn["vxlan-id"];
  out.dedicated = pn.dedicated;
  out["external-net-via-pod-vm"] = pn["external-net-via-pod-vm"];
  return out;
}

// dst and gw are netip structs, which omitempty never drops; protocol/scope/state are ints
// dropped at 0 (unspec, universe, none).
function route(r: ApfRoute): GoJsonValue {
  const out: Record<string, GoJsonValue> = { dst: r.dst, gw: r.gw };
  setString(out, "dev", r.dev);
  if (r.protocol !== undefined) out.protocol = r.protocol;
  if (r.scope !== undefined && r.scope !== "universe") out.scope = r.scope;
  return out;
}

function neighbor(n: ApfNeighbor): GoJsonValue {
  const out: Record<string, GoJsonValue> = { ip: n.ip };
  setString(out, "hw-addr", n["hw-addr"]);
  setString(out, "dev", n.dev);
  if (n.state !== "none") out.state = n.state;
  return out;
}

function setString(out: Record<string, GoJsonValue>, key: string, v: string | undefined): void {
  if (v !== undefined && v !== "") out[key] = v;
}
