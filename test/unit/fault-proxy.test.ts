// The fault proxy's slow answers and per-action faults, in front of a plain HTTP server that
// counts what reached it (the chaos harness's AWS target mixes both into its 30 %).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.ts";

let reached: string[] = [];
const server = createServer((req, res) => {
  let body = "";
  req.on("data", (c: Buffer) => (body += c.toString()));
  req.on("end", () => {
    reached.push(new URLSearchParams(body).get("Action") ?? "");
    res.end("<ok/>");
  });
});
let proxy: FaultProxy;

before(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  proxy = await startFaultProxy(`http://127.0.0.1:${port}`);
});
after(async () => {
  await proxy.stop();
  await new Promise((r) => server.close(r));
});

async function call(action: string): Promise<number | "dropped"> {
  try {
    const res = await fetch(proxy.url, { method: "POST", body: `Action=${action}` });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return "dropped";
  }
}

test("a slow call is held for slowMs, then forwarded", async () => {
  proxy.setPlan({ rate: 1, faults: ["slow"], slowMs: 300 });
  reached = [];
  const began = Date.now();
  assert.equal(await call("DescribeInstances"), 200);
  assert.ok(Date.now() - began >= 300);
  assert.deepEqual(reached, ["DescribeInstances"]);
  assert.equal(proxy.injected().slow, 1);
});

test("a fault limited to some actions hits only those; the others get one of the rest", async () => {
  proxy.setPlan({ rate: 1, faults: ["capacity", "unavailable"], only: { capacity: ["RunInstances"] } });
  proxy.resetCounts();
  const describes = await Promise.all(Array.from({ length: 20 }, () => call("DescribeInstances")));
  assert.deepEqual(new Set(describes), new Set([503]), "never a capacity error on a describe");
  proxy.setPlan({ rate: 1, faults: ["capacity"], only: { capacity: ["RunInstances"] } });
  assert.equal(await call("RunInstances"), 500);
  reached = [];
  assert.equal(await call("DescribeInstances"), 200, "no fault applies: forwarded");
  assert.deepEqual(reached, ["DescribeInstances"]);
  proxy.setPlan({});
});
