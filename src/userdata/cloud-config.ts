// `#cloud-config` user-data, byte for byte as upstream's text/template renders it
// (CAA src/cloud-providers/util/cloudinit/cloudconfig.go; rules in docs/upstream-compat.md §4.4).
// Nothing is quoted or escaped: contents go in literal blocks, indented six spaces.

export interface WriteFile {
  path: string;
  content: string;
}

export function renderCloudConfig(files: readonly WriteFile[]): string {
  let out = "#cloud-config";
  if (files.length > 0) {
    out += "\n\nwrite_files:";
    for (const file of files) {
      out += `\n  - path: ${file.path}`;
      if (file.content !== "") {
        out += "\n    content: |";
        for (const line of splitLines(file.content)) out += `\n      ${line}`;
      }
    }
  }
  return out + "\n";
}

/** Upstream splitLines: split on "\n" and drop one trailing empty element. */
function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}
