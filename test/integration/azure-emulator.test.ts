// The ARM emulator itself, spoken to over raw HTTPS: it must follow the async protocol of
// docs/background.md §4 (and the recorded Compute/Network traffic of §0) for the provider's
// tests to mean anything.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { startArmEmulator, type ArmEmulator } from "../azure-emulator/index.ts";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  raw: string;
}

describe("ARM emulator protocol", () => {
  let emu: ArmEmulator;
  let token = "";

  /** `body` is JSON-encoded, or sent as is when it is a form string. */
  function call(method: string, url: string, body?: unknown, form = false): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const payload =
        body === undefined ? undefined : form && typeof body === "string" ? body : JSON.stringify(body);
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (payload) headers["content-type"] = form ? "application/x-www-form-urlencoded" : "application/json";
      const r = request(new URL(url, emu.url), { method, ca: emu.caPem, headers, agent: false }, (res) => {
        let raw = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (raw += c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: raw ? (JSON.parse(raw) as unknown) : undefined,
            raw,
          }),
        );
      });
      r.on("error", reject);
      r.end(payload);
    });
  }

  const rgPath = () => `/subscriptions/${emu.subscriptionId}/resourceGroups/${emu.resourceGroup}/providers`;
  const vmUrl = (name: string) =>
    `${rgPath()}/Microsoft.Compute/virtualMachines/${name}?api-version=2024-11-01`;

  function vmBody(name: string, deleteOption: string) {
    return {
      location: emu.location,
      properties: {
        hardwareProfile: { vmSize: "Standard_DC2as_v5" },
        storageProfile: {
          imageReference: { id: emu.imageId },
          osDisk: { name: `${name}-disk`, createOption: "FromImage", deleteOption },
        },
        osProfile: { adminUsername: "peerpod", computerName: name },
        networkProfile: {
          networkApiVersion: "2020-11-01",
          networkInterfaceConfigurations: [
            {
              name: `${name}-net`,
              properties: {
                deleteOption,
                ipConfigurations: [{ name: "ip-config", properties: { subnet: { id: emu.subnetId } } }],
              },
            },
          ],
        },
      },
    };
  }

  before(async () => {
    emu = await startArmEmulator({ lroDelayMs: 150, retryAfterSec: 0, pageSize: 2 });
  });

  after(async () => emu.stop());

  test("the login endpoint issues tokens for the right secret only; ARM refuses requests without one", async () => {
    const cfg = await call("GET", `/${emu.tenantId}/v2.0/.well-known/openid-configuration`);
    assert.equal(
      (cfg.body as { token_endpoint: string }).token_endpoint,
      `${emu.url}/${emu.tenantId}/oauth2/v2.0/token`,
    );
    const form = (secret: string) =>
      new URLSearchParams({
        client_id: emu.clientId,
        client_secret: secret,
        grant_type: "client_credentials",
        scope: "x/.default",
      }).toString();
    const bad = await call("POST", `/${emu.tenantId}/oauth2/v2.0/token`, form("nope"), true);
    assert.equal(bad.status, 401);
    assert.equal((bad.body as { error: string }).error, "invalid_client");
    assert.equal((await call("GET", vmUrl("x"))).status, 401);
    const ok = await call("POST", `/${emu.tenantId}/oauth2/v2.0/token`, form(emu.clientSecret), true);
    assert.equal(ok.status, 200);
    token = (ok.body as { access_token: string }).access_token;
    const login = emu.requests.filter((r) => r.op === "login.token");
    assert.ok(
      login.every((r) => r.body === undefined),
      "login bodies are not recorded",
    );
  });

  test("a VM PUT answers 201 + Azure-AsyncOperation; the operation goes InProgress → Succeeded; the cascade made NIC and disk", async () => {
    const put = await call("PUT", vmUrl("vm1"), vmBody("vm1", "Delete"));
    assert.equal(put.status, 201);
    const asyncOp = String(put.headers["azure-asyncoperation"]);
    assert.match(
      asyncOp,
      new RegExp(
        `^${emu.url}/subscriptions/${emu.subscriptionId}/providers/Microsoft\\.Compute/locations/eastus/operations/[0-9a-f-]+\\?p=[0-9a-f-]+&api-version=2024-11-01$`,
      ),
    );
    assert.equal(put.headers["retry-after"], "0");
    const vm = put.body as {
      properties: { provisioningState: string; networkProfile: { networkInterfaces: Array<{ id: string }> } };
    };
    assert.equal(vm.properties.provisioningState, "Creating");
    assert.match(vm.properties.networkProfile.networkInterfaces[0].id, /networkInterfaces\/vm1-net$/);
    const running = await call("GET", asyncOp);
    assert.equal(running.status, 200);
    assert.equal((running.body as { status: string }).status, "InProgress");
    await sleep(200);
    const done = await call("GET", asyncOp);
    assert.deepEqual(Object.keys(done.body as object).sort(), ["endTime", "name", "startTime", "status"]);
    assert.equal((done.body as { status: string }).status, "Succeeded");
    const got = await call("GET", vmUrl("vm1"));
    assert.equal(
      (got.body as { properties: { provisioningState: string } }).properties.provisioningState,
      "Succeeded",
    );
    assert.equal((got.body as { properties: { userData?: string } }).properties.userData, undefined);
    assert.deepEqual(emu.snapshot(), { vms: ["vm1"], nics: ["vm1-net"], publicIps: [], disks: ["vm1-disk"] });
    const nicDelete = await call(
      "DELETE",
      `${rgPath()}/Microsoft.Network/networkInterfaces/vm1-net?api-version=2024-05-01`,
    );
    assert.equal(nicDelete.status, 400);
    assert.equal((nicDelete.body as { error: { code: string } }).error.code, "NicInUse");
  });

  test("a VM DELETE answers 202 + Location + Azure-AsyncOperation; Location says 202 until done, then 204; deleteOption Delete cascades", async () => {
    const del = await call("DELETE", vmUrl("vm1"));
    assert.equal(del.status, 202);
    assert.equal(del.raw, "");
    const location = String(del.headers.location);
    assert.equal(location, `${String(del.headers["azure-asyncoperation"])}&monitor=true`);
    assert.equal((await call("GET", location)).status, 202);
    await sleep(200);
    assert.equal((await call("GET", location)).status, 204);
    assert.equal((await call("GET", vmUrl("vm1"))).status, 404);
    assert.deepEqual(emu.snapshot(), { vms: [], nics: [], publicIps: [], disks: [] });
    assert.equal((await call("DELETE", vmUrl("vm1"))).status, 204, "deleting what does not exist is 204");
  });

  test("deleteOption Detach leaves the NIC and disk, detached and deletable", async () => {
    await call("PUT", vmUrl("vm2"), vmBody("vm2", "Detach"));
    await sleep(200);
    await call("DELETE", vmUrl("vm2"));
    await sleep(200);
    emu.state.settle();
    assert.deepEqual(emu.snapshot(), { vms: [], nics: ["vm2-net"], publicIps: [], disks: ["vm2-disk"] });
    const disk = await call("GET", `${rgPath()}/Microsoft.Compute/disks/vm2-disk?api-version=2024-03-02`);
    assert.equal((disk.body as { properties: { diskState: string } }).properties.diskState, "Unattached");
    const nicDel = await call(
      "DELETE",
      `${rgPath()}/Microsoft.Network/networkInterfaces/vm2-net?api-version=2024-05-01`,
    );
    assert.equal(nicDel.status, 202);
    assert.match(
      String(nicDel.headers.location),
      /Microsoft\.Network\/locations\/eastus\/operationResults\//,
    );
    assert.equal(
      (await call("DELETE", `${rgPath()}/Microsoft.Compute/disks/vm2-disk?api-version=2024-03-02`)).status,
      202,
    );
    assert.deepEqual(emu.snapshot(), { vms: [], nics: [], publicIps: [], disks: [] });
  });

  test("lists page with an absolute nextLink; standalone NIC and public IP PUTs answer 201 already Succeeded", async () => {
    for (const n of ["a", "b", "c"]) {
      const pip = await call(
        "PUT",
        `${rgPath()}/Microsoft.Network/publicIPAddresses/${n}?api-version=2024-05-01`,
        { location: "eastus" },
      );
      assert.equal(pip.status, 201);
      assert.equal(
        (pip.body as { properties: { provisioningState: string } }).properties.provisioningState,
        "Succeeded",
      );
    }
    const first = await call("GET", `${rgPath()}/Microsoft.Network/publicIPAddresses?api-version=2024-05-01`);
    const page = first.body as { value: unknown[]; nextLink: string };
    assert.equal(page.value.length, 2);
    assert.ok(page.nextLink.startsWith(emu.url));
    assert.equal(((await call("GET", page.nextLink)).body as { value: unknown[] }).value.length, 1);
    const nic = await call(
      "PUT",
      `${rgPath()}/Microsoft.Network/networkInterfaces/n1?api-version=2024-05-01`,
      {
        location: "eastus",
        properties: {
          ipConfigurations: [{ name: "ipconfig1", properties: { subnet: { id: emu.subnetId } } }],
        },
      },
    );
    assert.equal(nic.status, 201);
    assert.ok(nic.headers["azure-asyncoperation"]);
    for (const n of ["a", "b", "c"])
      await call("DELETE", `${rgPath()}/Microsoft.Network/publicIPAddresses/${n}?api-version=2024-05-01`);
    await call("DELETE", `${rgPath()}/Microsoft.Network/networkInterfaces/n1?api-version=2024-05-01`);
    assert.deepEqual(emu.snapshot(), { vms: [], nics: [], publicIps: [], disks: [] });
  });

  test("unknown subscription and resource group, and a refused PUT, use ARM's error envelope", async () => {
    const sub = await call(
      "GET",
      `/subscriptions/nope/providers/Microsoft.Compute/locations/eastus/vmSizes?api-version=2024-11-01`,
    );
    assert.equal(sub.status, 404);
    assert.equal((sub.body as { error: { code: string } }).error.code, "SubscriptionNotFound");
    const rg = await call(
      "GET",
      `/subscriptions/${emu.subscriptionId}/resourceGroups/nope/providers/Microsoft.Compute/virtualMachines?api-version=2024-11-01`,
    );
    assert.equal((rg.body as { error: { code: string } }).error.code, "ResourceGroupNotFound");
    const bad = vmBody("vm3", "Delete");
    bad.properties.hardwareProfile.vmSize = "Standard_Nope";
    const refused = await call("PUT", vmUrl("vm3"), bad);
    assert.equal(refused.status, 400);
    assert.deepEqual(Object.keys((refused.body as { error: object }).error).sort(), [
      "code",
      "message",
      "target",
    ]);
    assert.deepEqual(emu.snapshot().vms, []);
  });

  test("token buckets answer 429 with Retry-After once empty", async () => {
    const limited = await startArmEmulator({
      requireAuth: false,
      rateLimit: { reads: { capacity: 2, refillPerSec: 0.5 } },
    });
    try {
      const saved = emu;
      emu = limited;
      const url = `/subscriptions/${limited.subscriptionId}/providers/Microsoft.Compute/locations/eastus/vmSizes?api-version=2024-11-01`;
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push(await call("GET", url));
      emu = saved;
      assert.deepEqual(
        statuses.map((s) => s.status),
        [200, 200, 429],
      );
      assert.equal(statuses[2].headers["retry-after"], "2");
      assert.equal(statuses[1].headers["x-ms-ratelimit-remaining-subscription-reads"], "0");
    } finally {
      await limited.stop();
    }
  });
});
