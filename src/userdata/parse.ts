// Reading user-data as process-user-data does: yaml.v2 UnmarshalStrict into
// `{write_files: [{path, content}]}` (CAA pkg/userdata/provision.go). Unknown keys and duplicate
// keys are errors worded like yaml.v2's; `#cloud-config` is just a comment here.
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node, type Pair } from "yaml";
import type { WriteFile } from "./cloud-config.ts";

export { WRITE_FILES_ALLOWLIST, INITDATA_FILES_ALLOWLIST } from "./paths.ts";

export class UserDataError extends Error {
  override name = "UserDataError";
}

export function parseUserData(text: string): WriteFile[] {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true });
  if (!Array.isArray(docs)) return [];
  if (docs.length > 1) throw new UserDataError("yaml: user-data must be a single YAML document");
  const doc = docs[0];
  if (doc === undefined) return [];
  const syntax = doc.errors[0];
  if (syntax !== undefined) throw new UserDataError(`yaml: ${syntax.message.split("\n")[0]}`);

  const errors: string[] = [];
  const lineOf = (n: Node | null | undefined) => (n?.range ? lines.linePos(n.range[0]).line : 0);
  const files: WriteFile[] = [];
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return [];
  if (!isMap(root)) {
    throw new UserDataError(
      `yaml: unmarshal errors:\n  line ${lineOf(root)}: cannot unmarshal into userdata.CloudConfig`,
    );
  }
  for (const pair of root.items as Pair<Node, Node>[]) {
    const key = scalarText(pair.key);
    if (key !== "write_files") {
      errors.push(`line ${lineOf(pair.key)}: field ${key} not found in type userdata.CloudConfig`);
      continue;
    }
    const list = pair.value;
    if (list === null || (isScalar(list) && list.value === null)) continue;
    if (!isSeq(list)) {
      errors.push(`line ${lineOf(list)}: cannot unmarshal into []userdata.WriteFile`);
      continue;
    }
    for (const item of list.items as Node[]) {
      const file = writeFile(item, errors, lineOf);
      if (file !== undefined) files.push(file);
    }
  }
  if (errors.length > 0) throw new UserDataError(`yaml: unmarshal errors:\n  ${errors.join("\n  ")}`);
  return files;
}

function writeFile(
  item: Node,
  errors: string[],
  lineOf: (n: Node | null | undefined) => number,
): WriteFile | undefined {
  if (!isMap(item)) {
    errors.push(`line ${lineOf(item)}: cannot unmarshal into userdata.WriteFile`);
    return undefined;
  }
  const file: WriteFile = { path: "", content: "" };
  for (const pair of item.items as Pair<Node, Node>[]) {
    const key = scalarText(pair.key);
    if (key !== "path" && key !== "content") {
      errors.push(`line ${lineOf(pair.key)}: field ${key} not found in type userdata.WriteFile`);
      continue;
    }
    const v = pair.value;
    if (v === null || (isScalar(v) && v.value === null)) continue;
    if (!isScalar(v)) {
      errors.push(`line ${lineOf(v)}: cannot unmarshal a collection into string (${key})`);
      continue;
    }
    file[key] = scalarText(v);
  }
  return file;
}

/** yaml.v2 puts a non-string scalar into a string field as its source text. */
function scalarText(n: Node | null): string {
  if (n === null || !isScalar(n)) return "";
  if (typeof n.value === "string") return n.value;
  return n.source ?? String(n.value);
}
