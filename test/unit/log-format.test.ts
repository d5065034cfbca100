// Logs: upstream's Go log line shape by default (the e2e suite greps it), and no secrets.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { createLogger } from "../../src/log/logger.ts";
import { formatLine } from "../../src/log/text-format.ts";

function capture(format: string): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const out = new PassThrough();
  let text = "";
  out.on("data", (d: Buffer) => (text += d.toString()));
  return { logger: createLogger({ format, destination: out }), text: () => text };
}

test("text lines look like Go's log with LstdFlags|Lmsgprefix", () => {
  const line = formatLine({
    time: new Date(2026, 10, 22, 9, 5, 7).getTime(),
    level: 30,
    component: "adaptor/cloud",
    msg: "create a sandbox abc for pod nginx in namespace default (netns: /var/run/netns/cni-1)",
    sandbox: "abc",
  });
  assert.equal(
    line,
    "2026/11/22 09:05:07 [adaptor/cloud] create a sandbox abc for pod nginx in namespace default (netns: /var/run/netns/cni-1) sandbox=abc\n",
  );
});

test("credentials, keys and user-data are redacted in both formats", () => {
  for (const format of ["text", "json"]) {
    const { logger, text } = capture(format);
    logger.info(
      {
        userData: "#cloud-config secret-user-data",
        credentials: { secretAccessKey: "AKIASECRET" },
        secretAccessKey: "AKIASECRET2",
        clientSecret: "azure-secret",
        key: "-----BEGIN PRIVATE KEY-----",
      },
      "creating instance",
    );
    const out = text();
    assert.match(out, /creating instance/);
    for (const secret of ["secret-user-data", "AKIASECRET", "azure-secret", "PRIVATE KEY"]) {
      assert.ok(!out.includes(secret), `${format} log leaked ${secret}: ${out}`);
    }
  }
});

test("the text destination writes one line per entry, each with its own second", () => {
  const { logger, text } = capture("text");
  logger.info({ component: "adaptor/cloud", sandbox: "a" }, "first");
  logger.warn("second");
  const lines = text().split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[adaptor\/cloud\] first sandbox=a$/);
  assert.match(lines[1], /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[adaptor\] warn: second$/);
  // Formatting each second once must not stick to it.
  const at = (s: number) =>
    formatLine({ time: new Date(2026, 10, 22, 9, 5, s, 999).getTime(), level: 30, msg: "m" }).slice(0, 19);
  assert.deepEqual(
    [at(7), at(7), at(8), at(7)],
    ["2026/11/22 09:05:07", "2026/11/22 09:05:07", "2026/11/22 09:05:08", "2026/11/22 09:05:07"],
  );
});
