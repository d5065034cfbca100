// ARM emulator for the Azure provider's tests: Microsoft.Compute VMs, VM sizes, disks and images,
// Microsoft.Network NICs, public IPs, subnets and NSGs, and a fake login endpoint, over HTTPS with
// the async (LRO) protocol of docs/background.md §4, a fault plan, and a record of every request.
//
// Trusting its CA: NODE_EXTRA_CA_CERTS is read once at process start, so a child process gets
// `NODE_EXTRA_CA_CERTS=<caFile>` in its env, and a test that runs the SDK in its own process calls
// trustCaInProcess(caPem) (tls.setDefaultCACertificates, Node ≥ 22.19/24.5) before the first request.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { makeEmulatorCert } from "./cert.ts";
import { Faults } from "./faults.ts";
import { buildRoutes } from "./routes.ts";
import { EmulatorServer } from "./server.ts";
import { EmulatorState, resolveOptions } from "./state.ts";
import type { EmulatorOptions, FaultPlan, RecordedRequest } from "./types.ts";

export type { EmulatorOptions, FaultPlan, RecordedRequest, VmSize } from "./types.ts";
export type { EmulatorState } from "./state.ts";
export { azureProviderEnv } from "./env.ts";

export interface ArmEmulator {
  /** https://127.0.0.1:PORT — both the ARM endpoint and the authority host. */
  url: string;
  caPem: string;
  /** The CA in a file, for NODE_EXTRA_CA_CERTS of child processes. */
  caFile: string;
  subscriptionId: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  resourceGroup: string;
  location: string;
  subnetId: string;
  nsgId: string;
  imageId: string;
  state: EmulatorState;
  /** Every request in arrival order (login bodies are never kept). */
  requests: RecordedRequest[];
  /** Requests per operation name (e.g. "vm.put", "operation.get"), optionally since a sequence number. */
  count(op?: string, sinceSeq?: number): number;
  /** Replace the fault plan; counts start afresh. */
  setFaults(plan: FaultPlan): void;
  /** How often each fault fired. */
  faultsFired: Record<string, number>;
  /** Names of the VMs, NICs, public IPs and disks that exist now. */
  snapshot(): { vms: string[]; nics: string[]; publicIps: string[]; disks: string[] };
  stop(): Promise<void>;
}

export async function startArmEmulator(opts: EmulatorOptions = {}): Promise<ArmEmulator> {
  const options = resolveOptions(opts);
  const state = new EmulatorState(options);
  const faults = new Faults();
  const cert = await makeEmulatorCert();
  const server = new EmulatorServer(cert, state, faults, buildRoutes(state, faults));
  const url = await server.listen();
  const dir = await mkdtemp(join(tmpdir(), "arm-emulator-"));
  const caFile = join(dir, "ca.pem");
  await writeFile(caFile, cert.caPem);
  return {
    url,
    caPem: cert.caPem,
    caFile,
    subscriptionId: options.subscriptionId,
    tenantId: options.tenantId,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    resourceGroup: options.resourceGroups[0],
    location: options.location,
    subnetId: options.subnets[0].id,
    nsgId: options.nsgs[0],
    imageId: options.images[0],
    state,
    requests: server.requests,
    count: (op, sinceSeq = 0) =>
      server.requests.filter((r) => r.seq > sinceSeq && (op === undefined || r.op === op)).length,
    setFaults: (plan) => faults.set(plan),
    faultsFired: faults.fired,
    snapshot: () => state.snapshot(),
    stop: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Trust the emulator's CA in this process (what NODE_EXTRA_CA_CERTS does for a new one). */
export function trustCaInProcess(caPem: string): void {
  const current = tls.getCACertificates("default");
  if (!current.includes(caPem)) tls.setDefaultCACertificates([...current, caPem]);
}
