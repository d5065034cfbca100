import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ANNOTATION,
  AnnotationError,
  goParseInt64,
  parsePodIdentity,
  parseSandboxResources,
} from "../../src/sandbox/annotations.ts";

test("annotation keys are the ones the kata shim sends", () => {
  assert.equal(ANNOTATION.sandboxName, "io.kubernetes.cri.sandbox-name");
  assert.equal(ANNOTATION.sandboxNamespace, "io.kubernetes.cri.sandbox-namespace");
  assert.equal(ANNOTATION.sandboxUid, "io.kubernetes.cri.sandbox-uid");
  assert.equal(ANNOTATION.machineType, "io.katacontainers.config.hypervisor.machine_type");
  assert.equal(ANNOTATION.image, "io.katacontainers.config.hypervisor.image");
  assert.equal(ANNOTATION.defaultVcpus, "io.katacontainers.config.hypervisor.default_vcpus");
  assert.equal(ANNOTATION.defaultMemory, "io.katacontainers.config.hypervisor.default_memory");
  assert.equal(ANNOTATION.defaultGpus, "io.katacontainers.config.hypervisor.default_gpus");
  assert.equal(ANNOTATION.defaultGpuModel, "io.katacontainers.config.hypervisor.default_gpu_model");
  assert.equal(ANNOTATION.ccInitData, "io.katacontainers.config.hypervisor.cc_init_data");
  assert.equal(ANNOTATION.criOKubeName, "io.kubernetes.cri-o.KubeName");
  assert.equal(ANNOTATION.criONamespace, "io.kubernetes.cri-o.Namespace");
});

const ns = { [ANNOTATION.sandboxNamespace]: "default" };

test("pod identity comes from the CRI keys", () => {
  assert.deepEqual(parsePodIdentity({ [ANNOTATION.sandboxName]: "nginx", ...ns }), {
    podName: "nginx",
    podNamespace: "default",
  });
});

test("a CRI-O sandbox name k8s_<pod>_<ns>_<uid>_<n> yields the pod name", () => {
  const a = { [ANNOTATION.sandboxName]: "k8s_nginx_default_7d1c2b3a-uid_0", ...ns };
  assert.equal(parsePodIdentity(a).podName, "nginx");
  assert.equal(parsePodIdentity({ [ANNOTATION.sandboxName]: "k8s", ...ns }).podName, "k8s");
  assert.equal(parsePodIdentity({ [ANNOTATION.sandboxName]: "my_pod", ...ns }).podName, "my_pod");
});

test("the CRI-O keys are a fallback when the CRI keys are absent (runtime-rs)", () => {
  const a = { [ANNOTATION.criOKubeName]: "web", [ANNOTATION.criONamespace]: "prod" };
  assert.deepEqual(parsePodIdentity(a), { podName: "web", podNamespace: "prod" });
  const both = { [ANNOTATION.sandboxName]: "cri", [ANNOTATION.criOKubeName]: "crio", ...ns };
  assert.equal(parsePodIdentity(both).podName, "cri");
});

test("a missing pod name or namespace fails with upstream's message", () => {
  assert.throws(() => parsePodIdentity(ns), {
    name: "AnnotationError",
    message: "pod name io.kubernetes.cri.sandbox-name is missing in annotations",
  });
  assert.throws(() => parsePodIdentity({ [ANNOTATION.sandboxName]: "k8s_", ...ns }), {
    message: "pod name io.kubernetes.cri.sandbox-name is missing in annotations",
  });
  assert.throws(() => parsePodIdentity({ [ANNOTATION.sandboxName]: "nginx" }), {
    message: "namespace name io.kubernetes.cri.sandbox-namespace is missing in annotations",
  });
});

test("sizing annotations are parsed like Go strconv.ParseInt, 0 on error", () => {
  const r = parseSandboxResources({
    [ANNOTATION.machineType]: "m6a.large",
    [ANNOTATION.defaultVcpus]: "2",
    [ANNOTATION.defaultMemory]: "12288",
    [ANNOTATION.defaultGpus]: "+1",
    [ANNOTATION.image]: "ami-0123",
    [ANNOTATION.ccInitData]: 'algorithm = "sha256"\n',
  });
  assert.deepEqual(r, {
    instanceType: "m6a.large",
    vcpus: 2,
    memoryMiB: 12288,
    gpus: 1,
    image: "ami-0123",
    initdata: 'algorithm = "sha256"\n',
  });
  assert.deepEqual(parseSandboxResources({}), {
    instanceType: "",
    vcpus: 0,
    memoryMiB: 0,
    gpus: 0,
    image: "",
    initdata: "",
  });
  for (const bad of ["", "abc", "1.5", " 2", "2 ", "0x10", "1_000", "99999999999999999999", "--1"]) {
    assert.equal(parseSandboxResources({ [ANNOTATION.defaultVcpus]: bad }).vcpus, 0, JSON.stringify(bad));
  }
  assert.equal(parseSandboxResources({ [ANNOTATION.defaultMemory]: "007" }).memoryMiB, 7);
});

test("goParseInt64 keeps int64 bounds", () => {
  assert.equal(goParseInt64("9223372036854775807"), 9223372036854775807n);
  assert.equal(goParseInt64("9223372036854775808"), undefined);
  assert.equal(goParseInt64("-9223372036854775808"), -9223372036854775808n);
});

test("absurd or negative sizes are refused, naming the annotation", () => {
  const cases: [string, string, RegExp][] = [
    [ANNOTATION.defaultVcpus, "4097", /default_vcpus is too large: 4097 \(at most 4096\)/],
    [ANNOTATION.defaultVcpus, "-1", /default_vcpus must not be negative: -1/],
    [ANNOTATION.defaultMemory, String(16 * 1024 * 1024 + 1), /default_memory is too large/],
    [ANNOTATION.defaultGpus, "65", /default_gpus is too large: 65 \(at most 64\)/],
  ];
  for (const [key, value, msg] of cases) {
    assert.throws(
      () => parseSandboxResources({ [key]: value }),
      (e: unknown) => {
        return e instanceof AnnotationError && msg.test(e.message);
      },
    );
  }
  assert.equal(parseSandboxResources({ [ANNOTATION.defaultVcpus]: "4096" }).vcpus, 4096);
  assert.equal(parseSandboxResources({ [ANNOTATION.defaultMemory]: "16777216" }).memoryMiB, 16777216);
});

test("oversized annotation maps and values are refused", () => {
  const big = "x".repeat(64 * 1024 + 1);
  assert.throws(() => parseSandboxResources({ [ANNOTATION.image]: big }), {
    message: `annotation "${ANNOTATION.image}" is too large: 65537 bytes (limit 65536)`,
  });
  assert.throws(
    () => parseSandboxResources({ "example.com/other": big }),
    /"example.com\/other" is too large/,
  );
  const initdata = "y".repeat(200 * 1024);
  assert.equal(parseSandboxResources({ [ANNOTATION.ccInitData]: initdata }).initdata, initdata);
  assert.throws(
    () => parseSandboxResources({ [ANNOTATION.ccInitData]: "y".repeat(256 * 1024 + 1) }),
    /cc_init_data" is too large: 262145 bytes \(limit 262144\)/,
  );
  const many: Record<string, string> = {};
  for (let i = 0; i < 257; i++) many[`k${i}`] = "v";
  assert.throws(() => parseSandboxResources(many), {
    message: "too many annotations: 257 (at most 256 are accepted)",
  });
  delete many.k0;
  assert.doesNotThrow(() => parseSandboxResources(many));
});

// Found by the annotations fuzz target (test/fuzz/corpus/annotations/found-*.json).
test("an oversized annotation's key is quoted in the error, so a newline in it cannot forge a log line", () => {
  assert.throws(
    () => parseSandboxResources({ "x\r\nforged": "a".repeat(65537) }),
    (err: Error) =>
      err instanceof AnnotationError &&
      err.message === 'annotation "x\\r\\nforged" is too large: 65537 bytes (limit 65536)',
  );
});

test("a machine_type longer than 128 bytes is refused before the instance-type check quotes it back", () => {
  assert.throws(
    () => parseSandboxResources({ [ANNOTATION.machineType]: "\0".repeat(300) }),
    (err: Error) =>
      err instanceof AnnotationError &&
      err.message === `annotation "${ANNOTATION.machineType}" is too large: 300 bytes (limit 128)`,
  );
  assert.equal(parseSandboxResources({ [ANNOTATION.machineType]: "m".repeat(128) }).instanceType.length, 128);
});
