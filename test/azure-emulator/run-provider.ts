// Runs one Azure provider lifecycle (start with CLOUD_CONFIG_VERIFY, create, get, delete) from the
// environment and prints what happened as JSON: the way a fresh process (the daemon) meets the
// emulator, trusting its CA only through NODE_EXTRA_CA_CERTS.
import azure from "../../providers/azure/index.ts";
import { silentLogger } from "../../src/log/logger.ts";

const provider = await azure.create(process.env, { logger: silentLogger(), stateDir: process.cwd() });
await provider.start({ verify: true });
const sandboxId = "c0ffee00c0ffee00";
const inst = await provider.create({
  name: `podvm-child-${sandboxId.slice(0, 8)}`,
  userData: "#cloud-config\n",
  spec: { instanceType: "", vcpus: 0, memoryMiB: 0, gpus: 0, image: "" },
  owner: { cluster: "c", node: "n", sandboxId, podName: "child", podNamespace: "default" },
});
const got = await provider.get(inst.id);
await provider.delete(inst.id);
await provider.close();
console.log(JSON.stringify({ id: inst.id, ips: inst.ips, gotIps: got.ips }));
