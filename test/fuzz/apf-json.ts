// Fuzz target: the forwarder's config, apf.json (src/userdata/apf-parse.ts as Go's json.Unmarshal
// into forwarder.Config), then the forwarder started from it (TLS material, versions and cipher
// suites, pod network off). It must give a config and a listening forwarder, or ApfConfigError from
// the parser and ForwarderError/ConfigError from the forwarder, never anything else.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ConfigError } from "../../src/config/options.ts";
import { ForwarderError, runForwarder } from "../../src/forwarder/index.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { CertAuthority } from "../../src/tls/index.ts";
import { ApfConfigError, parseApfJson } from "../../src/userdata/apf-config.ts";
import { NEIGHBOR_STATES, ROUTE_PROTOCOLS, ROUTE_SCOPES } from "../../src/userdata/apf-types.ts";
import type { FuzzTarget } from "./driver.ts";
import { nastyString, type Rng } from "./mutator.ts";

interface Pems {
  cert: string;
  key: string;
  ca: string;
}

function recase(rng: Rng, key: string): string {
  return rng.chance(0.1) ? key.toUpperCase() : key;
}

function scalar(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => nastyString(rng, 256),
    () => rng.int(2 ** 31) - 2 ** 30,
    () => rng.pick([0, -1, 1.5, 2 ** 53, 1e308, 4789, 65536]),
    () => rng.chance(0.5),
    () => null,
    () => [],
    () => ({}),
  ])();
}

function maybe(rng: Rng, good: () => unknown): unknown {
  return rng.chance(0.7) ? good() : scalar(rng);
}

function podNetwork(rng: Rng): unknown {
  const ip = (): string =>
    rng.pick(["10.0.0.5", "fe80::1", "10.0.0.5/24", "", "300.1.1.1", "::ffff:1.2.3.4"]);
  const prefix = (): string =>
    rng.pick(["10.0.0.0/24", "0.0.0.0/0", "::/0", "10.0.0.5/33", "10.0.0.5", "/8", "1.2.3.4/08"]);
  return {
    [recase(rng, "podip")]: maybe(rng, prefix),
    "pod-hw-addr": maybe(rng, () => "0a:58:0a:00:00:05"),
    interface: maybe(rng, () => "eth0"),
    "worker-node-ip": maybe(rng, prefix),
    "tunnel-type": maybe(rng, () => rng.pick(["vxlan", "", "gre"])),
    routes: maybe(rng, () =>
      Array.from({ length: rng.size(4) }, () => ({
        dst: maybe(rng, prefix),
        gw: maybe(rng, ip),
        dev: maybe(rng, () => "eth0"),
        ...(rng.chance(0.5) ? { protocol: maybe(rng, () => rng.pick(ROUTE_PROTOCOLS)) } : {}),
        ...(rng.chance(0.5) ? { scope: maybe(rng, () => rng.pick(ROUTE_SCOPES)) } : {}),
      })),
    ),
    neighbors: maybe(rng, () => [
      {
        ip: maybe(rng, ip),
        "hw-addr": "0a:58:0a:00:00:01",
        state: maybe(rng, () => rng.pick(NEIGHBOR_STATES)),
      },
    ]),
    mtu: maybe(rng, () => rng.pick([1450, 0, 65536, -1])),
    index: maybe(rng, () => rng.int(5)),
    "vxlan-port": maybe(rng, () => rng.pick([4789, 0, 70000])),
    "vxlan-id": maybe(rng, () => rng.pick([555000, 0, 2 ** 24])),
    dedicated: maybe(rng, () => rng.chance(0.5)),
  };
}

function generate(rng: Rng, pems: Pems): Buffer {
  const r = rng.next();
  if (r < 0.05) return Buffer.from("[".repeat(rng.size(200_000)));
  const cfg: Record<string, unknown> = {
    "pod-network": rng.chance(0.5) ? null : maybe(rng, () => podNetwork(rng)),
    [recase(rng, "pod-namespace")]: maybe(rng, () => "default"),
    "pod-name": maybe(rng, () => "nginx"),
  };
  if (rng.chance(0.8)) {
    cfg["tls-server-cert"] = maybe(rng, () =>
      rng.chance(0.8) ? pems.cert : pems.cert.slice(0, rng.int(pems.cert.length)),
    );
    cfg["tls-server-key"] = maybe(rng, () => (rng.chance(0.8) ? pems.key : pems.key.replace("A", "B")));
  }
  if (rng.chance(0.6))
    cfg["tls-client-ca"] = maybe(rng, () =>
      rng.chance(0.8) ? pems.ca : "-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n",
    );
  if (rng.chance(0.3))
    cfg["tls-min-version"] = maybe(rng, () => rng.pick(["TLS1.2", "TLS1.3", "TLS1.0", "1.2", "", "SSLv3"]));
  if (rng.chance(0.3))
    cfg["tls-cipher-suites"] = maybe(rng, () => [
      rng.pick([
        "TLS_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_RC4_128_SHA",
        "nope",
      ]),
    ]);
  if (rng.chance(0.2))
    cfg[rng.pick(["sc-pp-prv", "sc-wn-pub"])] = maybe(rng, () => rng.bytes(32).toString("base64"));
  if (rng.chance(0.2)) cfg[nastyString(rng, 32)] = scalar(rng);
  return Buffer.from(JSON.stringify(cfg, null, rng.chance(0.5) ? 2 : undefined));
}

export const apfJsonTarget: FuzzTarget = {
  name: "apf-json",
  timeoutMs: 15_000,
  batch: 100,
  maxInputBytes: 1 << 20,
  open: async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "caa-fuzz-apf-"));
    const ca = await CertAuthority.loadOrCreate(path.join(dir, "tls"));
    const server = await ca.issueServerCert("podvm-fuzz-00000000");
    const pems: Pems = { cert: server.certPem, key: server.keyPem, ca: ca.clientCaPem };
    const file = path.join(dir, "apf.json");
    const root = path.join(dir, "root");
    await mkdir(root);
    const logger = silentLogger();
    return {
      generate: (rng) => generate(rng, pems),
      run: async (input) => {
        const text = input.toString("utf8");
        try {
          parseApfJson(text);
        } catch (err) {
          if (!(err instanceof ApfConfigError)) throw err;
        }
        await writeFile(file, input, { mode: 0o600 });
        try {
          const handle = await runForwarder(
            {
              config: file,
              listen: "127.0.0.1:0",
              kataAgentSocket: path.join(dir, "no-agent.sock"),
              rootDir: root,
              skipProvision: true,
              noPodNetwork: true,
              agentDialTimeout: 50,
            },
            logger,
          );
          await handle.close();
        } catch (err) {
          if (!(err instanceof ForwarderError || err instanceof ConfigError)) throw err;
        }
      },
      close: () => rm(dir, { recursive: true, force: true }),
    };
  },
};
