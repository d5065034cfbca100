// Sandbox ids arrive from the kata shim over ttrpc and become path components
// (`<pods-dir>/<id>/agent.ttrpc`) and cloud tag values, so they are checked before any use.
// containerd ids are 64 hex chars; anything outside `[A-Za-z0-9._-]` is refused.
import { quoteBounded } from "../util/bounded-text.ts";

export class InvalidSandboxIdError extends Error {
  override name = "InvalidSandboxIdError";
}

const MAX_ID_BYTES = 128;
const ALLOWED = /^[A-Za-z0-9._-]+$/;

export function validateSandboxId(id: string): void {
  const reason = problem(id);
  if (reason !== undefined) {
    // An id up to a little over the limit is echoed whole (the caller sees what was refused);
    // a longer one is cut, so a megabyte id does not come back as a megabyte message.
    throw new InvalidSandboxIdError(`invalid sandbox id ${quoteBounded(id, MAX_ID_BYTES + 64)}: ${reason}`);
  }
}

function problem(id: string): string | undefined {
  if (id === "") return "empty sandbox id";
  if (id.includes("/")) return "contains '/'";
  if (id.includes("\0")) return "contains a NUL byte";
  if (id === "." || id === "..") return "is a relative path component";
  if (Buffer.byteLength(id, "utf8") > MAX_ID_BYTES) return `longer than ${MAX_ID_BYTES} bytes`;
  if (!ALLOWED.test(id)) {
    return "contains a character outside [A-Za-z0-9._-] (whitespace, control or non-ASCII)";
  }
  if (id.startsWith("-")) return "starts with '-'";
  return undefined;
}
