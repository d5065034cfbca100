// Every `caa` command answers -h and --help with its usage and exit 0, and defaults are printed in
// the units the user types: durations as Go prints them (5m0s), never milliseconds.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, test } from "node:test";
import { goDurationString } from "../../src/config/options.ts";

const exec = promisify(execFile);
const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const COMMANDS = [
  [],
  ["serve"],
  ["forwarder"],
  ["conformance"],
  ["podvm"],
  ["version"],
  ["sandbox"],
  ["sandbox", "create"],
  ["sandbox", "start"],
  ["sandbox", "stop"],
  ["sandbox", "list"],
  ["sandbox", "run"],
];

async function help(args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000 });
  return stdout;
}

describe("caa -h and --help", () => {
  for (const cmd of COMMANDS) {
    test(`caa ${[...cmd, "-h"].join(" ")} and --help print its usage`, async () => {
      const [short, long] = await Promise.all([help([...cmd, "-h"]), help([...cmd, "--help"])]);
      const usage = new RegExp(`^Usage: ${["caa", ...cmd].join(" ")}\\b`);
      assert.match(short, usage);
      assert.equal(long, short);
    });
  }

  test("durations print as Go durations in every help text", async () => {
    const [serve, forwarder, conformance] = await Promise.all([
      help(["serve", "-h"]),
      help(["forwarder", "-h"]),
      help(["conformance", "-h"]),
    ]);
    assert.match(serve, /-proxy-timeout +PROXY_TIMEOUT +.*\(default 5m0s\)$/m);
    assert.match(serve, /-leak-grace-period +LEAK_GRACE_PERIOD +.*\(default 2m0s\)$/m);
    assert.match(forwarder, /-agent-dial-timeout +.*\(default 2m30s\)$/m);
    for (const text of [serve, forwarder, conformance]) {
      // Every default of a *-timeout, *-interval, *-period or *-delay flag carries a unit, except
      // upstream's integer "seconds" flags.
      for (const m of text.matchAll(/^ +--?\S*(?:timeout|interval|period|delay)\b.*\(default (\S+)\)$/gm)) {
        if (!m[0].includes("seconds")) assert.match(m[1], /^(\d+(\.\d+)?(h|m|s|ms|µs))+$/, m[0]);
      }
      assert.doesNotMatch(text, /\[object Object\]/);
    }
  });
});

test("goDurationString is Go's time.Duration.String()", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [0.5, "500µs"],
    [250, "250ms"],
    [1500, "1.5s"],
    [30_000, "30s"],
    [90_000, "1m30s"],
    [300_000, "5m0s"],
    [3_600_000, "1h0m0s"],
    [5_400_000, "1h30m0s"],
    [-2000, "-2s"],
  ];
  for (const [ms, text] of cases) assert.equal(goDurationString(ms), text, `${ms} ms`);
});
