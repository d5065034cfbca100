import { test } from "node:test";
import assert from "node:assert/strict";
import { renderCloudConfig } from "../../src/userdata/cloud-config.ts";

// Expected strings were produced by running upstream's template
// (CAA src/cloud-providers/util/cloudinit/cloudconfig.go) with Go's text/template.
test("no files renders only the header", () => {
  assert.equal(renderCloudConfig([]), "#cloud-config\n");
});

test("contents are literal blocks split on newlines, one trailing empty line dropped", () => {
  const out = renderCloudConfig([
    { path: "/x", content: "a\n\nb\n\n" },
    { path: "/y", content: "\n" },
    { path: "/z", content: "no newline" },
  ]);
  assert.equal(
    out,
    "#cloud-config\n\nwrite_files:\n  - path: /x\n    content: |\n      a\n      \n      b\n      \n  - path: /y\n    content: |\n      \n  - path: /z\n    content: |\n      no newline\n",
  );
});

test("an empty content emits only the path", () => {
  assert.equal(
    renderCloudConfig([{ path: "/run/peerpod/scratch-space.marker", content: "" }]),
    "#cloud-config\n\nwrite_files:\n  - path: /run/peerpod/scratch-space.marker\n",
  );
});

test("nothing is quoted or escaped", () => {
  assert.equal(
    renderCloudConfig([{ path: "/p: q", content: '{"a": "<&>"}\ttab' }]),
    '#cloud-config\n\nwrite_files:\n  - path: /p: q\n    content: |\n      {"a": "<&>"}\ttab\n',
  );
});
