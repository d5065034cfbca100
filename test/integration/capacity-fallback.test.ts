// Capacity fallback is the core's (src/sandbox/capacity.ts), so every cloud gets the same one: one
// table of cases, run against the local provider (LOCAL_NO_CAPACITY_TYPES), EC2 in moto (the fault
// proxy answers InsufficientInstanceCapacity for chosen types), the ARM emulator (AllocationFailed
// for chosen sizes) and an external plugin through `caa serve` (it throws a plain object with only
// a capacity code). The types each cloud was asked for, in order, are read on the cloud's side.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { EC2Client } from "@aws-sdk/client-ec2";
import { createAwsProvider } from "../../providers/aws/index.ts";
import azure from "../../providers/azure/index.ts";
import { generatedPublicKey } from "../../providers/azure/ssh-key.ts";
import local from "../../providers/local/index.ts";
import type { Provider } from "../../providers/types.ts";
import { silentLogger } from "../../src/log/logger.ts";
import {
  azureProviderEnv,
  startArmEmulator,
  trustCaInProcess,
  type ArmEmulator,
} from "../azure-emulator/index.ts";
import type { VmPutBody } from "../azure-emulator/arm-types.ts";
import { recordingLogger } from "../helpers/aws-requests.ts";
import {
  escape,
  pluginCloud,
  sandboxId,
  throughCore,
  type Case,
  type Cloud,
  type Rank,
} from "../helpers/capacity-clouds.ts";
import { captureLogger } from "../helpers/capture-logger.ts";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.ts";
import { awsEnv, motoClient, seedWorld } from "../helpers/moto-fixtures.ts";
import { needsMoto, startMoto, type Moto } from "../helpers/moto.ts";

const CASES: Case[] = [
  { name: "capacity for the selected type", selected: "M", noCapacity: [], tried: ["M"], lands: "M" },
  { name: "the next larger type", selected: "M", noCapacity: ["M"], tried: ["M", "L"], lands: "L" },
  { name: "two types on", selected: "M", noCapacity: ["M", "L"], tried: ["M", "L", "XL"], lands: "XL" },
  { name: "at most three types", selected: "S", noCapacity: ["S", "M", "L"], tried: ["S", "M", "L"] },
  { name: "never a smaller type", selected: "L", noCapacity: ["L", "XL"], tried: ["L", "XL"] },
];

const plugin = pluginCloud();
const clouds: Cloud[] = [];

// --- local: LOCAL_NO_CAPACITY_TYPES; what it was asked for is in its log ----------------------------
const LOCAL_TYPES = { S: "local.small", M: "local.medium", L: "local.large", XL: "local.xlarge" };
clouds.push({
  name: "local",
  types: LOCAL_TYPES,
  code: "InsufficientCapacity",
  async run(c, id) {
    const stateDir = await mkdtemp(join(tmpdir(), "caa-capfb-local-"));
    const log = captureLogger();
    const provider = await local.create(
      {
        // Processes on loopback addresses of a /24 of its own: nothing here needs a VM's network.
        LOCAL_LOOPBACK: "true",
        LOCAL_LOOPBACK_SUBNET: `127.${100 + (randomBytes(1)[0] % 100)}.${randomBytes(1)[0]}.0/24`,
        LOCAL_INSTANCE_TYPES: Object.values(LOCAL_TYPES).join(","),
        LOCAL_NO_CAPACITY_TYPES: c.noCapacity.map((r) => LOCAL_TYPES[r]).join(","),
      },
      { logger: log.logger, stateDir },
    );
    try {
      await provider.start({ verify: false });
      const tried = () =>
        log.lines
          .filter((l) => /no capacity for|started/.test(String(l.msg)) && l.instanceType)
          .map((l) => String(l.instanceType));
      return await throughCore(provider, c, this, id, tried);
    } finally {
      await provider.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  },
});

// --- EC2 in moto behind the fault proxy: RunInstances' InstanceType ---------------------------------
const AWS_TYPES = { S: "c6a.large", M: "m6a.large", L: "m6a.xlarge", XL: "m6a.2xlarge" };
let aws: { provider: Provider; proxy: FaultProxy } | undefined;
clouds.push({
  name: "aws (moto)",
  skip: needsMoto(),
  types: AWS_TYPES,
  code: "InsufficientInstanceCapacity",
  async run(c, id) {
    const { provider, proxy } = aws!;
    const refused = new Set(c.noCapacity.map((r) => AWS_TYPES[r]));
    const asked: string[] = [];
    proxy.setPlan({
      script: (action, _n, params) => {
        if (action !== "RunInstances") return undefined;
        const type = params.get("InstanceType") ?? "";
        asked.push(type);
        return refused.has(type) ? "capacity" : undefined;
      },
    });
    try {
      return await throughCore(provider, c, this, id, () => [...asked]);
    } finally {
      proxy.setPlan({});
    }
  },
});

// --- the ARM emulator: the VM PUTs' sizes; AllocationFailed for chosen sizes -----------------------
const AZURE_TYPES = {
  S: "Standard_B2s",
  M: "Standard_DC2as_v5",
  L: "Standard_DC4as_v5",
  XL: "Standard_DC8as_v5",
};
let arm: { provider: Provider; emu: ArmEmulator } | undefined;
clouds.push({
  name: "azure (ARM emulator)",
  types: AZURE_TYPES,
  code: "AllocationFailed",
  async run(c, id) {
    const { provider, emu } = arm!;
    const sizes = c.noCapacity.map((r) => AZURE_TYPES[r]);
    emu.setFaults(sizes.length > 0 ? { lroFailure: { sizes, count: 100 } } : {});
    const since = emu.requests.length;
    const tried = () =>
      emu.requests
        .slice(since)
        .filter((r) => r.op === "vm.put")
        .map((r) => String((r.body as VmPutBody).properties?.hardwareProfile?.vmSize));
    try {
      return await throughCore(provider, c, this, id, tried);
    } finally {
      emu.setFaults({});
    }
  },
});

clouds.push(plugin);

describe("capacity fallback: the same cases on every provider", { timeout: 300_000 }, () => {
  let moto: Moto | undefined;
  let ec2: EC2Client | undefined;
  let keyDir = "";

  before(async () => {
    await plugin.start();
    const emu = await startArmEmulator({ lroDelayMs: 20 });
    trustCaInProcess(emu.caPem);
    keyDir = await mkdtemp(join(tmpdir(), "caa-capfb-az-"));
    const keyFile = join(keyDir, "id_rsa.pub");
    await writeFile(keyFile, (await generatedPublicKey(2048)) + "\n");
    const azureEnv = azureProviderEnv(emu, {
      AZURE_SSH_KEY_PATH: keyFile,
      AZURE_INSTANCE_SIZES: Object.values(AZURE_TYPES).join(","),
    });
    const azureProvider = await azure.create(azureEnv, { logger: silentLogger(), stateDir: keyDir });
    await azureProvider.start({ verify: false });
    arm = { provider: azureProvider, emu };

    if (needsMoto()) return;
    moto = await startMoto();
    const proxy = await startFaultProxy(moto.url);
    ec2 = motoClient(moto.url);
    const world = await seedWorld(ec2);
    const env = awsEnv(proxy.url, world, { PODVM_INSTANCE_TYPES: Object.values(AWS_TYPES).join(",") });
    const provider = await createAwsProvider(env, { logger: recordingLogger(), stateDir: "/nonexistent" });
    await provider.start({ verify: false });
    aws = { provider, proxy };
  });

  after(async () => {
    plugin.stop();
    await aws?.provider.close();
    await aws?.proxy.stop();
    ec2?.destroy();
    await moto?.stop();
    await arm?.provider.close();
    await arm?.emu.stop();
    if (keyDir) await rm(keyDir, { recursive: true, force: true });
  });

  for (const cloud of clouds) {
    for (const c of CASES) {
      test(`${cloud.name}: ${c.name}`, { skip: cloud.skip }, async () => {
        const name = (r: Rank) => cloud.types[r];
        const got = await cloud.run(c, sandboxId());
        assert.deepEqual(got.tried, c.tried.map(name), "the types the cloud was asked for, in order");
        if (c.lands) {
          assert.equal(got.error, undefined, got.error?.message);
          assert.equal(got.stage, "running");
          assert.equal(got.instances, 1);
          assert.equal(got.tried.at(-1), name(c.lands));
          return;
        }
        assert.equal(got.stage, "failed");
        assert.equal(got.instances, 0, "no instance is left of a StartVM without capacity");
        assert.equal(got.error?.code, cloud.code);
        const after = c.tried.slice(1).map((r) => `${escape(name(r))} \\(${cloud.code}\\)`);
        assert.match(got.error?.message ?? "", new RegExp(`^provisioning: .+; tried ${after.join(", ")}$`));
      });
    }
  }
});
