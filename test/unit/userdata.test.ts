import { test } from "node:test";
import assert from "node:assert/strict";
import { APF, APF_JSON } from "./apf-golden.ts";
import { AUTH_JSON_LIMIT, buildUserData, buildWriteFiles } from "../../src/userdata/build.ts";
import { parseUserData, UserDataError, WRITE_FILES_ALLOWLIST } from "../../src/userdata/parse.ts";
import { parseApfJson } from "../../src/userdata/apf-config.ts";
import { decodeInitdata, encodeInitdata } from "../../src/userdata/initdata.ts";

const AUTH = '{"auths":{"quay.io":{"auth":"dXNlcjpwYXNz"}}}';
const INITDATA = "H4sIAAAAAAAA/0rLz1dIzs8rSc0rAQQAAP//OYHNvgsAAAA=";

// Produced by upstream's template (Go text/template) with upstream's write_files for these inputs.
const GOLDEN =
  '#cloud-config\n\nwrite_files:\n  - path: /run/peerpod/apf.json\n    content: |\n      {\n          "pod-network": {\n              "podip": "10.244.1.7/24",\n              "pod-hw-addr": "0a:58:0a:f4:01:07",\n              "interface": "eth0",\n              "worker-node-ip": "192.168.122.63/24",\n              "tunnel-type": "vxlan",\n              "routes": [\n                  {\n                      "dst": "0.0.0.0/0",\n                      "gw": "10.244.1.1",\n                      "dev": "eth0",\n                      "protocol": "boot"\n                  },\n                  {\n                      "dst": "10.244.1.0/24",\n                      "gw": "",\n                      "dev": "eth0",\n                      "protocol": "kernel",\n                      "scope": "link"\n                  }\n              ],\n              "neighbors": null,\n              "mtu": 1450,\n              "index": 0,\n              "vxlan-port": 4789,\n              "vxlan-id": 555000,\n              "dedicated": false,\n              "external-net-via-pod-vm": false\n          },\n          "pod-namespace": "default",\n          "pod-name": "nginx",\n          "tls-server-key": "-----BEGIN PRIVATE KEY-----\\nMC4CAQAwBQYDK2VwBCIEIA==\\n-----END PRIVATE KEY-----\\n",\n          "tls-server-cert": "-----BEGIN CERTIFICATE-----\\nMIIBszCCAVmgAwIBAgIU\\n-----END CERTIFICATE-----\\n",\n          "tls-client-ca": "-----BEGIN CERTIFICATE-----\\nMIIBcDCCARagAwIBAgIR\\n-----END CERTIFICATE-----\\n"\n      }\n  - path: /run/peerpod/auth.json\n    content: |\n      {"auths":{"quay.io":{"auth":"dXNlcjpwYXNz"}}}\n  - path: /run/peerpod/initdata\n    content: |\n      H4sIAAAAAAAA/0rLz1dIzs8rSc0rAQQAAP//OYHNvgsAAAA=\n  - path: /run/peerpod/scratch-space.marker\n';

test("user-data has upstream's files, order and bytes", () => {
  assert.equal(buildUserData({ apf: APF, authJson: AUTH, initdata: INITDATA, scratchSpace: true }), GOLDEN);
});

test("optional files appear only under upstream's conditions", () => {
  const paths = (o: Parameters<typeof buildWriteFiles>[0]) => buildWriteFiles(o).map((f) => f.path);
  assert.deepEqual(paths({ apf: APF }), ["/run/peerpod/apf.json"]);
  assert.deepEqual(paths({ apf: APF, authJson: "", initdata: "", scratchSpace: false }), [
    "/run/peerpod/apf.json",
  ]);
  assert.deepEqual(paths({ apf: APF, initdata: INITDATA }), [
    "/run/peerpod/apf.json",
    "/run/peerpod/initdata",
  ]);
  const fits = `{"auths":{"r":{"auth":"${"a".repeat(AUTH_JSON_LIMIT - 27)}"}}}`;
  assert.equal(Buffer.byteLength(fits), AUTH_JSON_LIMIT);
  assert.deepEqual(paths({ apf: APF, authJson: fits }), ["/run/peerpod/apf.json", "/run/peerpod/auth.json"]);
  const tooBig = fits.replace('"a', '"aa');
  assert.deepEqual(paths({ apf: APF, authJson: tooBig }), ["/run/peerpod/apf.json"]);
});

test("process-user-data's strict reading recovers every file exactly", () => {
  const initdata = encodeInitdata('algorithm = "sha256"\nversion = "0.1.0"\n');
  const files = parseUserData(buildUserData({ apf: APF, authJson: AUTH, initdata, scratchSpace: true }));
  assert.deepEqual(
    files.map((f) => f.path),
    [
      "/run/peerpod/apf.json",
      "/run/peerpod/auth.json",
      "/run/peerpod/initdata",
      "/run/peerpod/scratch-space.marker",
    ],
  );
  // A literal block keeps one trailing newline; JSON and base64 readers ignore it.
  assert.equal(files[0].content, `${APF_JSON}\n`);
  assert.equal(parseApfJson(files[0].content)["pod-name"], "nginx");
  assert.equal(files[1].content, `${AUTH}\n`);
  assert.equal(decodeInitdata(files[2].content), 'algorithm = "sha256"\nversion = "0.1.0"\n');
  assert.equal(files[3].content, "");
  for (const f of files) assert.ok(WRITE_FILES_ALLOWLIST.includes(f.path), f.path);
});

test("the allow-list is upstream's", () => {
  assert.deepEqual(WRITE_FILES_ALLOWLIST, [
    "/run/peerpod/aa.toml",
    "/run/peerpod/cdh.toml",
    "/run/peerpod/apf.json",
    "/run/peerpod/auth.json",
    "/run/peerpod/initdata",
    "/run/peerpod/scratch-space.marker",
  ]);
});

test("unknown keys are fatal, worded like yaml.v2's UnmarshalStrict", () => {
  const cases: [string, string][] = [
    [
      "#cloud-config\nwrite_files:\n  - path: /a\nruncmd:\n  - echo hi\n",
      "yaml: unmarshal errors:\n  line 4: field runcmd not found in type userdata.CloudConfig",
    ],
    [
      "#cloud-config\nwrite_files:\n  - path: /a\n    permissions: '0600'\n    content: x\n",
      "yaml: unmarshal errors:\n  line 4: field permissions not found in type userdata.WriteFile",
    ],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseUserData(text),
      (e: unknown) => {
        assert.ok(e instanceof UserDataError);
        assert.equal(e.message, message);
        return true;
      },
    );
  }
});

test("malformed user-data is refused", () => {
  assert.throws(() => parseUserData("write_files:\n  - path: /a\n    path: /b\n"), UserDataError);
  assert.throws(() => parseUserData("write_files: [unclosed\n"), /^UserDataError: yaml: /);
  assert.throws(
    () => parseUserData("write_files:\n  path: /a\n"),
    /cannot unmarshal into \[\]userdata.WriteFile/,
  );
  assert.throws(
    () => parseUserData("write_files:\n  - path: [a]\n"),
    /cannot unmarshal a collection into string/,
  );
  assert.throws(() => parseUserData("just text"), /cannot unmarshal into userdata.CloudConfig/);
  assert.throws(() => parseUserData("write_files: []\n---\nwrite_files: []\n"), /single YAML document/);
});

test("empty and scalar-typed user-data reads like yaml.v2", () => {
  assert.deepEqual(parseUserData(""), []);
  assert.deepEqual(parseUserData("#cloud-config\n"), []);
  assert.deepEqual(parseUserData("write_files:\n"), []);
  assert.deepEqual(
    parseUserData("write_files:\n  - path: /a\n    content: 0123\n  - path: /b\n    content:\n"),
    [
      { path: "/a", content: "0123" },
      { path: "/b", content: "" },
    ],
  );
});
