// `ip -n <ns> …` for tests that look inside a network namespace they made; resolves with stdout.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const exec = promisify(execFile);

export function ipIn(ns: string): (...args: string[]) => Promise<string> {
  return async (...args) => (await exec("ip", ["-n", ns, ...args], { encoding: "utf8" })).stdout;
}
