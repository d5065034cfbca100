// Our apf.json `pod-network` against upstream's field names and formats (docs/upstream-compat.md §4.4), and
// the `ip -j` parsing it rests on.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { choosePrimary, interfaceNumber } from "../../src/podnetwork/primary.ts";
import { copiedRoutes, inspectPodNetwork, toPodRoute } from "../../src/podnetwork/inspect.ts";
import { parseLinks, parseNeighbors, parseRoutes } from "../../src/podnetwork/iproute-parse.ts";
import { neighborAddArgs, orderRoutes, routeAddArgs } from "../../src/podnetwork/pod-routes.ts";
import { DEFAULT_VXLAN_MIN_ID, DEFAULT_VXLAN_PORT, vniFor } from "../../src/podnetwork/vni.ts";
import { parseApfJson, renderApfJson } from "../../src/userdata/apf-config.ts";
import { sh, uniqueId } from "../helpers/podnetwork-topology.ts";
import { needsRoot } from "../helpers/requires.ts";

// `ip -4 -j -d route show table main` from a pod netns (iproute2 6.1), names as printed by default.
const ROUTES_BY_NAME = `[{"type":"unicast","dst":"default","gateway":"198.51.100.1","dev":"eth0","protocol":"boot","scope":"global","flags":[]},
{"type":"unicast","dst":"169.254.1.1","dev":"eth0","protocol":"boot","scope":"link","flags":[]},
{"type":"blackhole","dst":"192.0.2.0/24","protocol":"boot","scope":"global","flags":[]},
{"type":"unicast","dst":"198.51.100.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"198.51.100.10","flags":[]},
{"type":"unicast","dst":"198.51.100.77","dev":"eth0","protocol":"dhcp","scope":"link","flags":[]},
{"type":"unicast","dst":"203.0.113.0/24","gateway":"198.51.100.1","dev":"eth0","protocol":"static","scope":"global","metric":100,"flags":[]},
{"type":"unicast","dst":"203.0.113.0/24","gateway":"198.51.100.1","dev":"eth0","protocol":"boot","scope":"global","metric":50,"flags":[]},
{"type":"unicast","dst":"203.0.113.64/26","gateway":"198.51.100.1","dev":"eth0","protocol":"zebra","scope":"global","flags":[]}]`;

// The same table with `-N` (numbers), as the code runs it.
const ROUTES_NUMERIC = `[{"type":"1","dst":"default","gateway":"198.51.100.1","dev":"eth0","protocol":"3","scope":"0","flags":[]},
{"type":"1","dst":"169.254.1.1","dev":"eth0","protocol":"3","scope":"253","flags":[]},
{"type":"6","dst":"192.0.2.0/24","protocol":"3","scope":"0","flags":[]},
{"type":"1","dst":"198.51.100.0/24","dev":"eth0","protocol":"2","scope":"253","prefsrc":"198.51.100.10","flags":[]},
{"type":"1","dst":"198.51.100.77","dev":"eth0","protocol":"16","scope":"253","flags":[]},
{"type":"1","dst":"203.0.113.0/24","gateway":"198.51.100.1","dev":"eth0","protocol":"4","scope":"0","metric":100,"flags":[]},
{"type":"1","dst":"203.0.113.0/24","gateway":"198.51.100.1","dev":"eth0","protocol":"3","scope":"0","metric":50,"flags":[]},
{"type":"1","dst":"203.0.113.64/26","gateway":"198.51.100.1","dev":"eth0","protocol":"11","scope":"0","flags":[]}]`;

const EXPECTED_ROUTES = [
  { dst: "0.0.0.0/0", gw: "198.51.100.1", dev: "eth0", protocol: "boot" },
  { dst: "169.254.1.1/32", gw: "", dev: "eth0", protocol: "boot", scope: "link" },
  { dst: "198.51.100.0/24", gw: "", dev: "eth0", protocol: "kernel", scope: "link" },
  { dst: "198.51.100.77/32", gw: "", dev: "eth0", protocol: "dhcp", scope: "link" },
  { dst: "203.0.113.0/24", gw: "198.51.100.1", dev: "eth0", protocol: "boot" },
  { dst: "203.0.113.0/24", gw: "198.51.100.1", dev: "eth0", protocol: "static" },
];

describe("ip -j parsing and upstream's route selection", () => {
  it("copies main-table unicast static/boot/dhcp/kernel routes, sorted by destination, length, metric", () => {
    for (const sample of [ROUTES_BY_NAME, ROUTES_NUMERIC]) {
      const routes = copiedRoutes(parseRoutes(JSON.parse(sample))).map(toPodRoute);
      assert.deepEqual(routes, EXPECTED_ROUTES);
      assert.equal(
        JSON.stringify(routes[1]),
        '{"dst":"169.254.1.1/32","gw":"","dev":"eth0","protocol":"boot","scope":"link"}',
      );
    }
  });

  it("picks the primary interface as upstream: first default route, replaced only by a lower same-prefix suffix", () => {
    const def = (dev: string, metric: number, gateway = "192.0.2.254") => ({
      dst: "0.0.0.0/0",
      gateway,
      dev,
      type: 1,
      protocol: 3,
      scope: 0,
      metric,
    });
    assert.deepEqual(choosePrimary([def("eth1", 10), def("eth0", 500, "192.0.2.1")]), {
      dev: "eth0",
      gateway: "192.0.2.1",
    });
    // Metrics are ignored and a different prefix never replaces the first choice.
    assert.equal(choosePrimary([def("ens5", 900), def("eth0", 1)])?.dev, "ens5");
    assert.equal(choosePrimary([def("eth0", 1), def("eth0.5", 1)])?.dev, "eth0");
    assert.equal(choosePrimary([]), undefined);
    assert.deepEqual(interfaceNumber("ens10"), { prefix: "ens", num: 10 });
    assert.deepEqual(interfaceNumber("lo"), { prefix: "lo", num: Number.MAX_SAFE_INTEGER });
  });

  it("parses links with addresses and vxlan details, and permanent neighbours", () => {
    const links = parseLinks(
      JSON.parse(`[{"ifindex":2,"ifname":"vxlan1","mtu":1450,"address":"0a:58:0a:f4:01:07",
        "linkinfo":{"info_kind":"vxlan","info_data":{"id":555003,"remote":"192.0.2.2","port":4789}},
        "ifalias":"pod tunnel","master":"br0",
        "addr_info":[{"family":"inet","local":"198.51.100.10","prefixlen":24},{"family":"inet6","local":"fe80::1","prefixlen":64}]}]`),
    );
    assert.deepEqual(links[0], {
      ifindex: 2,
      ifname: "vxlan1",
      mtu: 1450,
      address: "0a:58:0a:f4:01:07",
      kind: "vxlan",
      alias: "pod tunnel",
      master: "br0",
      addrs: [
        { family: "inet", local: "198.51.100.10", prefixlen: 24 },
        { family: "inet6", local: "fe80::1", prefixlen: 64 },
      ],
      vxlan: { id: 555003, remote: "192.0.2.2", port: 4789 },
    });
    const neigh = parseNeighbors(
      JSON.parse('[{"dst":"169.254.1.1","lladdr":"ee:ee:ee:ee:ee:ee","state":["PERMANENT"]}]'),
      "eth0",
    );
    assert.deepEqual(neigh, [
      { dst: "169.254.1.1", lladdr: "ee:ee:ee:ee:ee:ee", dev: "eth0", states: ["permanent"] },
    ]);
  });

  it("turns upstream's routes and neighbours back into iproute2 commands, gateway-less routes first", () => {
    const ordered = orderRoutes(EXPECTED_ROUTES as Parameters<typeof orderRoutes>[0]);
    assert.deepEqual(
      ordered.map((r) => r.gw),
      ["", "", "", "198.51.100.1", "198.51.100.1", "198.51.100.1"],
    );
    assert.deepEqual(routeAddArgs(ordered[0]), [
      "ip",
      "route",
      "add",
      "169.254.1.1/32",
      "dev",
      "eth0",
      "proto",
      "3",
      "scope",
      "link",
    ]);
    assert.deepEqual(routeAddArgs({ dst: "203.0.113.0/24", gw: "198.51.100.1", dev: "eth0" }), [
      "ip",
      "route",
      "add",
      "203.0.113.0/24",
      "via",
      "198.51.100.1",
      "dev",
      "eth0",
    ]);
    assert.throws(() => routeAddArgs({ dst: "203.0.113.0/24", gw: "", protocol: "zebra" as "boot" }), {
      message: "unknown route protocol: zebra",
    });
    assert.deepEqual(
      neighborAddArgs({ ip: "169.254.1.1", "hw-addr": "ee:ee:ee:ee:ee:ee", dev: "eth0", state: "permanent" }),
      ["ip", "neigh", "add", "169.254.1.1", "lladdr", "ee:ee:ee:ee:ee:ee", "dev", "eth0", "nud", "permanent"],
    );
    assert.throws(() => neighborAddArgs({ ip: "169.254.1.1", "hw-addr": "ee:ee:ee:ee:ee:ee", dev: "eth0" }), {
      message: 'failed to add a new neighbor entry: invalid neighbor state "none"',
    });
  });

  it("derives the VNI as upstream, with its range errors", () => {
    assert.equal(DEFAULT_VXLAN_PORT, 4789);
    assert.equal(vniFor(7, DEFAULT_VXLAN_MIN_ID), 555007);
    assert.throws(() => vniFor(0, 2 ** 24), {
      message: "vxlan minimum ID 16777216 is not between 0 and 16777215",
    });
    assert.throws(() => vniFor(16777215, 1), {
      message: "pod index 16777215 is not between 0 and 16777214 for vxlan minimum ID 1",
    });
  });
});

// Written by hand from upstream's Go structs and json tags (forwarder.Config, tunneler.Config, Route,
// Neighbor) as json.MarshalIndent(cfg, "", "    ") prints them: netip values as text, a zero gw as "",
// dev/protocol/scope omitted when empty or 0, neighbour state by name. The multipath route has no
// top-level device or gateway, as netlink reports it.
const GOLDEN = `{
    "pod-network": {
        "podip": "198.51.100.10/24",
        "pod-hw-addr": "0a:58:c6:33:64:0a",
        "interface": "eth0",
        "worker-node-ip": "192.0.2.1/24",
        "tunnel-type": "vxlan",
        "routes": [
            {
                "dst": "0.0.0.0/0",
                "gw": "169.254.1.1",
                "dev": "eth0",
                "protocol": "boot"
            },
            {
                "dst": "169.254.1.1/32",
                "gw": "",
                "dev": "eth0",
                "protocol": "boot",
                "scope": "link"
            },
            {
                "dst": "192.0.2.128/25",
                "gw": "",
                "protocol": "static"
            },
            {
                "dst": "198.51.100.0/24",
                "gw": "",
                "dev": "eth0",
                "protocol": "kernel",
                "scope": "link"
            },
            {
                "dst": "203.0.113.0/24",
                "gw": "169.254.1.1",
                "dev": "eth0",
                "protocol": "static"
            },
            {
                "dst": "198.18.0.0/15",
                "gw": "169.254.1.1",
                "dev": "eth0"
            }
        ],
        "neighbors": [
            {
                "ip": "169.254.1.1",
                "hw-addr": "ee:ee:ee:ee:ee:ee",
                "dev": "eth0",
                "state": "permanent"
            }
        ],
        "mtu": 1480,
        "index": 12,
        "vxlan-port": 4789,
        "vxlan-id": 555012,
        "dedicated": false,
        "external-net-via-pod-vm": false
    },
    "pod-namespace": "default",
    "pod-name": "nginx"
}`;

describe("inspect of a constructed pod netns", { skip: needsRoot() }, () => {
  const id = uniqueId();
  const host = `gh-${id}`;
  const pod = `gp-${id}`;
  before(async () => {
    await sh(["ip", "netns", "add", host]);
    await sh(["ip", "netns", "add", pod]);
    const run = (ns: string, ...args: string[]) => sh(["ip", "-n", ns, ...args]);
    await run(host, "link", "add", "ens3", "type", "veth", "peer", "name", "ens4");
    await run(host, "addr", "add", "192.0.2.1/24", "dev", "ens3");
    await run(host, "addr", "add", "192.0.2.9/24", "dev", "ens3");
    await run(host, "link", "set", "ens3", "up");
    await run(host, "route", "add", "default", "via", "192.0.2.254", "dev", "ens3");
    // A Calico-style pod: gateway 169.254.1.1 reached through a link route and a permanent neighbour.
    await run(pod, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0");
    await run(pod, "link", "set", "eth0", "address", "0a:58:c6:33:64:0a", "mtu", "1480", "up");
    await run(pod, "addr", "add", "198.51.100.10/24", "dev", "eth0");
    await run(pod, "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link");
    await run(pod, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0");
    await run(pod, "route", "add", "203.0.113.0/24", "via", "169.254.1.1", "dev", "eth0", "proto", "static");
    await run(pod, "route", "add", "203.0.113.128/25", "via", "169.254.1.1", "dev", "eth0", "proto", "zebra");
    await run(pod, "route", "add", "blackhole", "192.0.2.0/24");
    await run(
      pod,
      "route",
      "add",
      "192.0.2.128/25",
      "proto",
      "static",
      "nexthop",
      "via",
      "169.254.1.1",
      "dev",
      "eth0",
      "nexthop",
      "via",
      "198.51.100.1",
      "dev",
      "eth0",
    );
    await run(
      pod,
      "neigh",
      "add",
      "169.254.1.1",
      "lladdr",
      "ee:ee:ee:ee:ee:ee",
      "dev",
      "eth0",
      "nud",
      "permanent",
    );
    await run(
      pod,
      "neigh",
      "add",
      "198.51.100.5",
      "lladdr",
      "02:00:00:00:00:05",
      "dev",
      "eth0",
      "nud",
      "reachable",
    );
  });
  after(async () => {
    await sh(["ip", "netns", "del", host]).catch(() => undefined);
    await sh(["ip", "netns", "del", pod]).catch(() => undefined);
  });

  it("produces upstream's pod-network JSON, as rendered into apf.json", async () => {
    const config = await inspectPodNetwork({
      netnsPath: `/run/netns/${pod}`,
      index: 12,
      vxlanPort: 4789,
      vxlanMinId: 555000,
      podSubnetCidrs: ["198.18.0.0/15", "not-a-cidr"],
      hostNetns: host,
    });
    const apf = renderApfJson({ "pod-network": config, "pod-namespace": "default", "pod-name": "nginx" });
    assert.equal(apf, GOLDEN);
    assert.deepEqual(parseApfJson(GOLDEN)["pod-network"], config);
  });

  it("marks a non-primary -host-interface as dedicated and takes its first IPv4 address", async () => {
    await sh(["ip", "-n", host, "addr", "add", "203.0.113.9/24", "dev", "ens4"]);
    const config = await inspectPodNetwork({
      netnsPath: `/run/netns/${pod}`,
      hostInterface: "ens4",
      index: 0,
      vxlanPort: 4789,
      vxlanMinId: 555000,
      hostNetns: host,
    });
    assert.equal(config.dedicated, true);
    assert.equal(config["worker-node-ip"], "203.0.113.9/24");
  });

  it("works for a netns given as a bind-mounted file outside /run/netns", async () => {
    const dir = await mkdtemp(join(tmpdir(), "podnet-"));
    const file = join(dir, "netns");
    await writeFile(file, "");
    await sh(["mount", "--bind", `/run/netns/${pod}`, file]);
    try {
      const config = await inspectPodNetwork({
        netnsPath: file,
        index: 1,
        vxlanPort: 4789,
        vxlanMinId: 555000,
        hostNetns: host,
      });
      assert.equal(config.podip, "198.51.100.10/24");
    } finally {
      await sh(["umount", file]);
      await rm(dir, { recursive: true });
    }
  });
});
