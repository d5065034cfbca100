// The handover scenario holds every call to succeed, but on a cloud target with injected faults a
// StartVM the cloud refused fails with or without a handover. The harness counts those apart by
// the shape of the daemon's error; these are errors the 2026-12-01 campaign's handover rounds got
// (docs/reliability-run-2026-12-01.md), and errors a broken handover would give.
import assert from "node:assert/strict";
import { test } from "node:test";
import { motoTarget } from "../chaos/cloud/aws.ts";
import { armEmulatorTarget } from "../chaos/cloud/azure.ts";

const ID = "ed6ac4345b71043a6dbf95159f498456610700d5a1e0bc890f8aaa88713ace08";
const HANDOVER_FAILURES = [
  "StartVM: ttrpc: connection closed before the answer",
  "StartVM: ttrpc: dial unix /run/peerpod/hypervisor.sock: ECONNREFUSED",
  `StartVM: provisioning: sandbox ${ID} was abandoned by a daemon that handed over`,
  `StartVM: agent-connect: dialling the forwarder: Azure ECONNRESET: socket hang up`,
  `CreateVM: sandbox ${ID} already exists`,
];

test("moto: StartVMs failed by the fault proxy's answers are told from other failures", () => {
  const target = motoTarget();
  for (const e of [
    `StartVM: provisioning: RunInstances for sandbox ${ID}: AWS InsufficientInstanceCapacity for m6a.2xlarge in us-east-1; skipped m6a.large (InsufficientInstanceCapacity), m6a.xlarge (InsufficientInstanceCapacity) (no capacity a moment ago)`,
    `StartVM: provisioning: StartVM for sandbox ${ID}: no capacity for any fitting instance type a moment ago: m6a.large (InsufficientInstanceCapacity), m6a.xlarge (InsufficientInstanceCapacity), m6a.2xlarge (InsufficientInstanceCapacity); not asked again until the entries expire`,
    `StartVM: provisioning: RunInstances for sandbox ${ID}: AWS RequestLimitExceeded: Request limit exceeded. (after 10 attempts); retry budget exhausted`,
    `StartVM: provisioning: RunInstances for sandbox ${ID}: AWS ECONNRESET: socket hang up (after 10 attempts)`,
  ])
    assert.ok(target.isInjectedFault(e), e);
  for (const e of HANDOVER_FAILURES) assert.ok(!target.isInjectedFault(e), e);
  target.configureFaults({ seed: 1, rate: 0 });
  assert.ok(
    !target.isInjectedFault(
      `StartVM: provisioning: RunInstances for sandbox ${ID}: AWS RequestLimitExceeded: x`,
    ),
  );
});

test("ARM emulator: StartVMs failed by the emulator's injected faults are told from other failures", () => {
  const target = armEmulatorTarget();
  for (const e of [
    "StartVM: provisioning: Azure VM create podvm-chaos-e27debde-e27debde (Standard_DC2as_v5 in eastus): Azure ServerTimeout (HTTP 503): The server operation timed out. Please try again.; nothing of it is left (VM, NIC, disk and public IP checked and removed)",
    "StartVM: provisioning: Azure VM create podvm-chaos-ca1607fe-ca1607fe (Standard_DC4as_v5 in eastus): Azure ECONNRESET: socket hang up; nothing of it is left (VM, NIC, disk and public IP checked and removed)",
    `StartVM: provisioning: StartVM for sandbox ${ID}: no capacity for any fitting instance type a moment ago: Standard_DC2as_v5 (AllocationFailed), Standard_DC4as_v5 (AllocationFailed), Standard_DC8as_v5 (AllocationFailed); not asked again until the entries expire`,
    "StartVM: provisioning: Azure VM create podvm-chaos-ec42505b-ec42505b (Standard_DC8as_v5 in eastus): Azure AllocationFailed: Allocation failed. We do not have sufficient capacity for the requested VM size in this region.",
  ])
    assert.ok(target.isInjectedFault(e), e);
  for (const e of HANDOVER_FAILURES) assert.ok(!target.isInjectedFault(e), e);
});
