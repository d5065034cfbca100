import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidSandboxIdError, validateSandboxId } from "../../src/sandbox/validate.ts";

const CONTAINERD_ID = "3f2a9c4e5b6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b";

test("containerd's 64-hex ids and other [A-Za-z0-9._-] ids are accepted", () => {
  for (const id of [CONTAINERD_ID, "abc.DEF_1-2", "a", "x".repeat(128), "a..b", ".hidden"]) {
    assert.doesNotThrow(() => validateSandboxId(id), id);
  }
});

test("unsafe sandbox ids are refused with the reason", () => {
  const cases: [string, RegExp][] = [
    ["", /empty sandbox id/],
    ["a/b", /contains '\/'/],
    ["../etc", /contains '\/'/],
    ["a\0b", /NUL/],
    [".", /relative path component/],
    ["..", /relative path component/],
    ["x".repeat(129), /longer than 128 bytes/],
    ["a b", /outside \[A-Za-z0-9._-\]/],
    ["a\tb", /outside/],
    ["a\nb", /outside/],
    ["caf\u00e9", /outside/],
    ["a\u007fb", /outside/],
    ["-rf", /starts with '-'/],
  ];
  for (const [id, reason] of cases) {
    assert.throws(
      () => validateSandboxId(id),
      (err: unknown) =>
        err instanceof InvalidSandboxIdError &&
        err.name === "InvalidSandboxIdError" &&
        // JSON quoting, with DEL escaped too (a terminal acts on it).
        err.message.startsWith(`invalid sandbox id ${JSON.stringify(id).replace("\u007f", "\\u007f")}: `) &&
        reason.test(err.message),
      JSON.stringify(id),
    );
  }
});

test("non-printable characters are escaped in the message", () => {
  assert.throws(() => validateSandboxId("a\u0001b"), {
    message:
      'invalid sandbox id "a\\u0001b": contains a character outside [A-Za-z0-9._-] (whitespace, control or non-ASCII)',
  });
});
