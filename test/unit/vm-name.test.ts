import { test } from "node:test";
import assert from "node:assert/strict";
import { sanitizeName, vmName } from "../../src/sandbox/vm-name.ts";

const ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// Expected values derived by hand from upstream GenerateInstanceName
// (CAA src/cloud-providers/util/instance.go): `%s-%.*s-%.8s` after sanitize().
test("podvm-<pod>-<id[:8]> as the e2e suite expects", () => {
  assert.equal(vmName("nginx", ID), "podvm-nginx-01234567");
  assert.equal(vmName("simple-test", "ABCDEF0123456789"), "podvm-simple-test-abcdef01");
  assert.equal(vmName("x", "abc"), "podvm-x-abc");
});

test("names are lower-cased and [^a-z0-9-] becomes '-' rune by rune", () => {
  assert.equal(vmName("My_Pod.Name", ID), "podvm-my-pod-name-01234567");
  assert.equal(sanitizeName("caf\u00e9"), "caf-");
  assert.equal(sanitizeName("a\u{1F600}b"), "a-b");
  assert.equal(sanitizeName("\u0130stanbul"), "istanbul");
  assert.equal(sanitizeName("\u212Aelvin"), "kelvin");
  assert.equal(sanitizeName("\u00C9T\u00C9"), "-t-");
  assert.equal(sanitizeName("a b\tc"), "a-b-c");
});

test("the pod part is cut so the name is at most 63 bytes", () => {
  const p48 = "a".repeat(48);
  assert.equal(vmName(p48, ID), `podvm-${p48}-01234567`);
  assert.equal(vmName(p48, ID).length, 63);
  assert.equal(vmName("a".repeat(49), ID), `podvm-${p48}-01234567`);
  assert.equal(vmName("b".repeat(200), ID).length, 63);
});

test("custom and disabled limits behave as upstream", () => {
  assert.equal(vmName("nginx", ID, 20), "podvm-nginx-01234567");
  assert.equal(vmName("nginx", ID, 18), "podvm-ngi-01234567");
  assert.equal(vmName("nginx", ID, 15), "podvm--01234567");
  assert.equal(vmName("a".repeat(100), ID, 0), `podvm-${"a".repeat(100)}-01234567`);
  assert.throws(() => vmName("nginx", ID, 14), { message: "podvmNameMax is too small: 14" });
});
