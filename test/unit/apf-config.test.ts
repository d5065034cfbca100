import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ApfConfigError,
  parseApfJson,
  renderApfJson,
  type ApfConfig,
} from "../../src/userdata/apf-config.ts";
import { goJsonString } from "../../src/userdata/go-json.ts";
import { APF, APF_JSON } from "./apf-golden.ts";

test("apf.json is byte-identical to Go's MarshalIndent of upstream's structs", () => {
  assert.equal(renderApfJson(APF), APF_JSON);
});

test("omitempty, neighbours, TLS profile, []byte and Go's HTML escaping", () => {
  const cfg: ApfConfig = {
    "pod-network": {
      podip: "10.0.0.5/32",
      "pod-hw-addr": "aa:bb:cc:dd:ee:ff",
      interface: "eth0",
      "worker-node-ip": "198.51.100.10/24",
      "tunnel-type": "vxlan",
      routes: [
        { dst: "169.254.1.1/32", gw: "", dev: "eth0", protocol: "static", scope: "link" },
        { dst: "", gw: "169.254.1.1", dev: "" },
      ],
      neighbors: [
        { ip: "169.254.1.1", "hw-addr": "ee:ee:ee:ee:ee:ee", dev: "eth0", state: "permanent" },
        { ip: "", "hw-addr": "", dev: "", state: "none" },
      ],
      mtu: 9001,
      index: 7,
      dedicated: true,
      "external-net-via-pod-vm": true,
    },
    "pod-namespace": "ns<&>",
    "pod-name": 'p"q\\r\u2028\u0001',
    "tls-server-key": "",
    "tls-min-version": "VersionTLS13",
    "tls-cipher-suites": ["TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"],
    "sc-pp-prv": "AQID+g==",
  };
  // Go output for the same values (Go json.MarshalIndent).
  const expected = `{
    "pod-network": {
        "podip": "10.0.0.5/32",
        "pod-hw-addr": "aa:bb:cc:dd:ee:ff",
        "interface": "eth0",
        "worker-node-ip": "198.51.100.10/24",
        "tunnel-type": "vxlan",
        "routes": [
            {
                "dst": "169.254.1.1/32",
                "gw": "",
                "dev": "eth0",
                "protocol": "static",
                "scope": "link"
            },
            {
                "dst": "",
                "gw": "169.254.1.1"
            }
        ],
        "neighbors": [
            {
                "ip": "169.254.1.1",
                "hw-addr": "ee:ee:ee:ee:ee:ee",
                "dev": "eth0",
                "state": "permanent"
            },
            {
                "ip": ""
            }
        ],
        "mtu": 9001,
        "index": 7,
        "dedicated": true,
        "external-net-via-pod-vm": true
    },
    "pod-namespace": "ns\\u003c\\u0026\\u003e",
    "pod-name": "p\\"q\\\\r\\u2028\\u0001",
    "tls-min-version": "VersionTLS13",
    "tls-cipher-suites": [
        "TLS_AES_128_GCM_SHA256",
        "TLS_CHACHA20_POLY1305_SHA256"
    ],
    "sc-pp-prv": "AQID+g=="
}`;
  assert.equal(renderApfJson(cfg), expected);
});

test("nil pod network, empty slices and empty strings", () => {
  assert.equal(
    renderApfJson({ "pod-network": null, "pod-namespace": "", "pod-name": "" }),
    '{\n    "pod-network": null,\n    "pod-namespace": "",\n    "pod-name": ""\n}',
  );
  const empty: ApfConfig = {
    "pod-network": {
      podip: "",
      "pod-hw-addr": "",
      interface: "",
      "worker-node-ip": "",
      "tunnel-type": "",
      routes: [],
      neighbors: null,
      mtu: 0,
      index: 0,
      dedicated: false,
      "external-net-via-pod-vm": false,
    },
    "pod-namespace": "",
    "pod-name": "",
    "tls-cipher-suites": [],
  };
  assert.equal(
    renderApfJson(empty),
    `{
    "pod-network": {
        "podip": "",
        "pod-hw-addr": "",
        "interface": "",
        "worker-node-ip": "",
        "tunnel-type": "",
        "routes": [],
        "neighbors": null,
        "mtu": 0,
        "index": 0,
        "dedicated": false,
        "external-net-via-pod-vm": false
    },
    "pod-namespace": "",
    "pod-name": ""
}`,
  );
});

test("Go string escaping: short escapes (Go >= 1.22), controls, HTML, lone surrogates", () => {
  assert.equal(goJsonString("\b\f\n\r\t\u0000\u001f"), '"\\b\\f\\n\\r\\t\\u0000\\u001f"');
  assert.equal(goJsonString("<a href='x'>&</a>"), "\"\\u003ca href='x'\\u003e\\u0026\\u003c/a\\u003e\"");
  assert.equal(goJsonString("\u2028\u2029é😀\u007f"), '"\\u2028\\u2029é😀\u007f"');
  assert.equal(goJsonString("\ud800x"), '"\ufffdx"');
});

test("upstream's apf.json parses back to the same config", () => {
  const parsed = parseApfJson(APF_JSON);
  assert.equal(renderApfJson(parsed), APF_JSON);
  assert.deepEqual(parsed["pod-network"]?.routes?.[1], {
    dst: "10.244.1.0/24",
    gw: "",
    dev: "eth0",
    protocol: "kernel",
    scope: "link",
  });
  assert.equal(parsed["tls-client-ca"], APF["tls-client-ca"]);
});

test("parsing is as lenient as Go's json.Unmarshal where upstream is", () => {
  const cfg = parseApfJson(
    '{"POD-NAME":"x","pod-namespace":null,"unknown":1,"pod-network":{"mtu":1400,"routes":null,"neighbors":[]}}',
  );
  assert.equal(cfg["pod-name"], "x");
  assert.equal(cfg["pod-namespace"], "");
  assert.equal(cfg["pod-network"]?.mtu, 1400);
  assert.equal(cfg["pod-network"]?.routes, null);
  assert.deepEqual(cfg["pod-network"]?.neighbors, []);
  assert.equal(parseApfJson("{}")["pod-network"], null);
});

test("route protocol/scope and neighbour state must be known names", () => {
  const withRoute = (r: string) => `{"pod-network":{"routes":[${r}]}}`;
  const bad: [string, RegExp][] = [
    [withRoute('{"dst":"0.0.0.0/0","protocol":3}'), /routes\[0\]\.protocol: invalid route protocol: 3/],
    [withRoute('{"dst":"0.0.0.0/0","protocol":""}'), /routes\[0\]\.protocol: unknown route protocol: ""/],
    [withRoute('{"protocol":null}'), /invalid route protocol: null/],
    [
      withRoute('{"protocol":"unspec"}'),
      /unknown route protocol: "unspec" \(expected one of static, boot, dhcp, kernel\)/,
    ],
    [withRoute('{"scope":253}'), /routes\[0\]\.scope: invalid route scope: 253/],
    [withRoute('{"scope":"global"}'), /unknown route scope: "global"/],
    [
      '{"pod-network":{"neighbors":[{"ip":"192.0.2.1","state":128}]}}',
      /neighbors\[0\]\.state: invalid neighbor state: 128/,
    ],
    ['{"pod-network":{"neighbors":[{"state":""}]}}', /unknown neighbor state: ""/],
  ];
  for (const [text, msg] of bad) {
    assert.throws(
      () => parseApfJson(text),
      (e: unknown) => e instanceof ApfConfigError && msg.test(e.message),
      text,
    );
  }
  const ok = parseApfJson(withRoute('{"dst":"0.0.0.0/0","gw":"","protocol":"dhcp","scope":"host"}'));
  assert.deepEqual(ok["pod-network"]?.routes, [
    { dst: "0.0.0.0/0", gw: "", dev: "", protocol: "dhcp", scope: "host" },
  ]);
});

test("wrong types and bad addresses are errors naming the field", () => {
  const bad: [string, RegExp][] = [
    ["not json", /apf.json is not valid JSON/],
    ["[]", /apf.json: apf.json: must be a JSON object/],
    ['{"pod-name":1}', /pod-name: expected a string, got number 1/],
    ['{"pod-network":{"mtu":"1500"}}', /pod-network.mtu: expected an integer/],
    ['{"pod-network":{"mtu":1.5}}', /pod-network.mtu: expected an integer/],
    ['{"pod-network":{"dedicated":"yes"}}', /pod-network.dedicated: expected a boolean/],
    ['{"pod-network":{"routes":{}}}', /pod-network.routes: expected an array/],
    ['{"pod-network":{"podip":"10.0.0.5"}}', /pod-network.podip: invalid IP prefix "10.0.0.5"/],
    ['{"pod-network":{"podip":"10.0.0.5/33"}}', /invalid IP prefix/],
    ['{"pod-network":{"worker-node-ip":"host/24"}}', /worker-node-ip: invalid IP prefix/],
    ['{"pod-network":{"routes":[{"gw":"10.0.0.256"}]}}', /routes\[0\]\.gw: invalid IP address/],
    ['{"tls-cipher-suites":[1]}', /tls-cipher-suites\[0\]: expected a string/],
  ];
  for (const [text, msg] of bad) assert.throws(() => parseApfJson(text), msg, text);
  assert.equal(parseApfJson('{"pod-network":{"podip":"fd00::5/64"}}')["pod-network"]?.podip, "fd00::5/64");
});
