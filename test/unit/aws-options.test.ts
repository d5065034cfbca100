// AWS settings: upstream's env names and defaults (docs/upstream-compat.md §7), credentials choice,
// endpoint overrides, and which larger types are tried when capacity runs out.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import awsProviderModule from "../../providers/aws/index.ts";
import { credentialsMode } from "../../providers/aws/client.ts";
import { capacityCandidates as coreCandidates } from "../../src/sandbox/capacity.ts";
import { clientToken, effectiveRootVolumeSize } from "../../providers/aws/run-request.ts";
import { endpointOf, resolveAwsConfig } from "../../providers/aws/options.ts";
import { InvalidConfigError } from "../../providers/errors.ts";
import { recordingLogger } from "../helpers/aws-requests.ts";

describe("AWS options", () => {
  test("the module is named aws and lists upstream's env names", () => {
    assert.equal(awsProviderModule.name, "aws");
    for (const env of [
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "AWS_SESSION_TOKEN",
      "AWS_REGION",
      "PODVM_INSTANCE_TYPE",
      "PODVM_INSTANCE_TYPES",
      "PODVM_AMI_ID",
      "SSH_KP_NAME",
      "AWS_SUBNET_ID",
      "AWS_SG_IDS",
      "USE_PUBLIC_IP",
      "ROOT_VOLUME_SIZE",
      "DISABLECVM",
      "USE_PODVM_LAUNCHTEMPLATE",
      "PODVM_LAUNCHTEMPLATE_NAME",
      "TAGS",
      "AWS_ENDPOINT",
      "AWS_ENDPOINT_URL_EC2",
      "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    ])
      assert.ok(awsProviderModule.envNames.includes(env), env);
  });

  test("defaults match upstream", () => {
    const cfg = resolveAwsConfig({});
    assert.equal(cfg.instanceType, "m6a.large");
    assert.equal(cfg.rootVolumeSize, 30);
    assert.equal(cfg.launchTemplateName, "kata");
    assert.equal(cfg.disableCvm, false);
    assert.equal(cfg.usePublicIp, false);
    assert.equal(cfg.useLaunchTemplate, false);
    assert.deepEqual(cfg.instanceTypes, []);
    assert.deepEqual(cfg.tags, {});
  });

  test("lists, key=values and upstream's bool rule parse", () => {
    const cfg = resolveAwsConfig({
      AWS_SG_IDS: "sg-1, sg-2,",
      PODVM_INSTANCE_TYPES: "m6a.large,m6a.xlarge",
      TAGS: "a=1,b=x=y",
      DISABLECVM: "TRUE",
      USE_PUBLIC_IP: "yes",
    });
    assert.deepEqual(cfg.securityGroupIds, ["sg-1", "sg-2"]);
    assert.deepEqual(cfg.instanceTypes, ["m6a.large", "m6a.xlarge"]);
    assert.deepEqual(cfg.tags, { a: "1", b: "x=y" });
    assert.equal(cfg.disableCvm, true);
    assert.equal(cfg.usePublicIp, false);
  });

  test("a bad value is an InvalidConfigError naming the env var", async () => {
    await assert.rejects(
      Promise.resolve(
        awsProviderModule.create({ ROOT_VOLUME_SIZE: "big" }, { logger: recordingLogger(), stateDir: "/x" }),
      ),
      (err: Error) => err instanceof InvalidConfigError && /ROOT_VOLUME_SIZE/.test(err.message),
    );
  });

  test("credentials: static keys only with ID and secret, else profile, else the SDK chain (IRSA)", () => {
    assert.equal(
      credentialsMode(resolveAwsConfig({ AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b" })),
      "static",
    );
    assert.equal(credentialsMode(resolveAwsConfig({ AWS_ACCESS_KEY_ID: "a" })), "default-chain");
    assert.equal(credentialsMode(resolveAwsConfig({})), "default-chain");
  });

  test("endpoint: AWS_ENDPOINT, else AWS_ENDPOINT_URL_EC2, else AWS_ENDPOINT_URL", () => {
    assert.equal(endpointOf(resolveAwsConfig({})), "");
    assert.equal(endpointOf(resolveAwsConfig({ AWS_ENDPOINT_URL: "http://c" })), "http://c");
    assert.equal(
      endpointOf(resolveAwsConfig({ AWS_ENDPOINT_URL_EC2: "http://b", AWS_ENDPOINT_URL: "http://c" })),
      "http://b",
    );
    assert.equal(
      endpointOf(resolveAwsConfig({ AWS_ENDPOINT: "http://a", AWS_ENDPOINT_URL_EC2: "http://b" })),
      "http://a",
    );
  });
});

describe("request helpers", () => {
  test("root volume size: upstream's raise-to-image and int32 cap; 0 means the image's", () => {
    assert.equal(effectiveRootVolumeSize(30, 8), 30);
    assert.equal(effectiveRootVolumeSize(30, 50), 50);
    assert.equal(effectiveRootVolumeSize(30, undefined), 30);
    assert.equal(effectiveRootVolumeSize(2 ** 40, 8), 2 ** 31 - 1);
    assert.equal(effectiveRootVolumeSize(0, 50), 0);
  });

  test("ClientToken is printable, ≤ 64 chars and differs by sandbox, type and generation", () => {
    const t = clientToken("a".repeat(64), "m6a.large", 0);
    assert.ok(t.length <= 64 && /^[\x21-\x7e]+$/.test(t));
    assert.equal(t, clientToken("a".repeat(64), "m6a.large", 0));
    const others = [
      clientToken("b".repeat(64), "m6a.large", 0),
      clientToken("a".repeat(64), "m6a.xlarge", 0),
      clientToken("a".repeat(64), "m6a.large", 1),
    ];
    assert.equal(new Set([t, ...others]).size, 4);
  });
});

describe("capacity fallback candidates", () => {
  // The order is the core's (src/sandbox/capacity.ts); AWS marks types without SEV-SNP not creatable.
  type T = { name: string; vcpus: number; memoryMiB: number; gpus: number; sevSnp: boolean };
  const capacityCandidates = (
    selected: string,
    types: T[],
    spec: { vcpus: number; memoryMiB: number; gpus: number },
    requireSevSnp: boolean,
  ) =>
    coreCandidates(
      selected,
      types.map((t) => ({ ...t, creatable: !requireSevSnp || t.sevSnp })),
      spec,
      Infinity,
    );
  const t = (name: string, vcpus: number, memoryMiB: number, gpus = 0, sevSnp = true) => ({
    name,
    vcpus,
    memoryMiB,
    gpus,
    sevSnp,
  });
  const sorted = [
    t("c6a.large", 2, 4096),
    t("m6a.large", 2, 8192),
    t("r6a.large", 2, 16384),
    t("m5.xlarge", 4, 16384, 0, false),
    t("m6a.xlarge", 4, 16384),
    t("g4dn.xlarge", 4, 16384, 1, false),
  ];

  test("the selected type, then larger types in selection order that fit", () => {
    assert.deepEqual(capacityCandidates("m6a.large", sorted, { vcpus: 0, memoryMiB: 0, gpus: 0 }, true), [
      "m6a.large",
      "r6a.large",
      "m6a.xlarge",
    ]);
    assert.deepEqual(capacityCandidates("m6a.large", sorted, { vcpus: 0, memoryMiB: 0, gpus: 0 }, false), [
      "m6a.large",
      "r6a.large",
      "m5.xlarge",
      "m6a.xlarge",
      "g4dn.xlarge",
    ]);
    assert.deepEqual(capacityCandidates("r6a.large", sorted, { vcpus: 4, memoryMiB: 0, gpus: 0 }, true), [
      "r6a.large",
      "m6a.xlarge",
    ]);
  });

  test("a type outside the list is tried alone", () => {
    assert.deepEqual(capacityCandidates("x1.huge", sorted, { vcpus: 0, memoryMiB: 0, gpus: 0 }, true), [
      "x1.huge",
    ]);
  });
});
