import { test } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import {
  decodeInitdata,
  encodeInitdata,
  initdataDigest,
  InitdataError,
  parseInitdata,
} from "../../src/userdata/initdata.ts";

const TOML =
  "algorithm = \"sha384\"\nversion = \"0.1.0\"\n\n[data]\n\"aa.toml\" = '''\n[token_configs.kbs]\nurl = \"http://192.0.2.10:8080\"\n'''\n\"policy.rego\" = '''\npackage agent_policy\ndefault ExecProcessRequest := false\n'''\n";

// Produced by upstream's initdata.Encode (Go gzip.NewWriter + base64.StdEncoding) for TOML.
const GO_ENCODED =
  "H4sIAAAAAAAA/zTMsU7DMBDG8d1PcfKS7eoUhhApIztirarqcC9OFMcXfBcEb48C6vrp+/8oJ6mzTSsM4HWip+7Zuy+uOks5poAtBu/c5U5GV+eJ0GTNHgZomsZdTBYutyhlnJPi8qFXt9d8lJPZ1p9O7csZA56xDX0XuuDdkflN8hx/sHKSB7VRXCgxUOJit/+Du/NIezZ4/eb4ViWy6jt/7qwG/QAjZeU/8DcAAP//QYOBL8cAAAA=";

test("Go-encoded initdata decodes to the TOML", () => {
  assert.equal(decodeInitdata(GO_ENCODED), TOML);
  assert.equal(decodeInitdata(`${GO_ENCODED}\n`), TOML, "the literal block's trailing newline is ignored");
  assert.equal(decodeInitdata(GO_ENCODED.replace(/(.{20})/g, "$1\r\n")), TOML);
});

test("encode is gzip + padded standard base64 and round-trips", () => {
  const enc = encodeInitdata(TOML);
  assert.match(enc, /^H4sI[A-Za-z0-9+/]+={0,2}$/);
  assert.equal(gunzipSync(Buffer.from(enc, "base64")).toString("utf8"), TOML);
  assert.equal(decodeInitdata(enc), TOML);
  assert.equal(decodeInitdata(encodeInitdata("")), "");
  assert.equal(decodeInitdata(encodeInitdata("héllo ✓")), "héllo ✓");
});

test("bad initdata is refused with a clear error", () => {
  assert.throws(() => decodeInitdata("not base64!"), { name: "InitdataError", message: /not valid base64/ });
  assert.throws(() => decodeInitdata("abc"), /not valid base64/);
  assert.throws(() => decodeInitdata(Buffer.from("plain").toString("base64")), /not valid gzip data/);
});

test("digests are hex sha256/384/512 of the TOML bytes, as upstream computes them", () => {
  assert.equal(
    initdataDigest(TOML, "sha256"),
    "b82b4c585b11a7ffdf308cae4ce6440ca0e6ee11d55b82e6fb9870db52f9a6b3",
  );
  assert.equal(
    initdataDigest(TOML, "sha384"),
    "343c04c8b369ddb415d30f650bb1212969354f788ae4668217b4e6e3f4130b561ff8bc84d2fee0a159580d4c1e52330e",
  );
  assert.equal(
    initdataDigest(Buffer.from(TOML), "sha512"),
    "d4d1e414884c52b13ff7a3a41fb5090f32f2260630056c15203ee7c1991cf64b34e72f539dc9f3f17397fc9115eb3d1e343889e7415be8183359c4917f5cf30c",
  );
  assert.throws(() => initdataDigest(TOML, "md5"), {
    message: "error creating initdata digest, algorithm md5 is not supported",
  });
});

test("the TOML body parses into algorithm, version and data", () => {
  assert.deepEqual(parseInitdata(TOML), {
    algorithm: "sha384",
    version: "0.1.0",
    data: {
      "aa.toml": '[token_configs.kbs]\nurl = "http://192.0.2.10:8080"\n',
      "policy.rego": "package agent_policy\ndefault ExecProcessRequest := false\n",
    },
  });
  assert.deepEqual(parseInitdata('algorithm = "sha256"\nversion = "0.1.0"\nextra = 1\n'), {
    algorithm: "sha256",
    version: "0.1.0",
    data: {},
  });
});

test("malformed initdata TOML is refused", () => {
  assert.throws(
    () => parseInitdata("algorithm = "),
    (e: unknown) => e instanceof InitdataError,
  );
  assert.throws(() => parseInitdata("algorithm = 1\n"), /algorithm must be a string/);
  assert.throws(() => parseInitdata('data = "x"\n'), /data must be a table of strings/);
  assert.throws(() => parseInitdata('[data]\n"aa.toml" = 3\n'), /data.aa.toml must be a string/);
});
