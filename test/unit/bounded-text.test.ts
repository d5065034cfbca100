// Found by the annotations fuzz target: JSON quoting alone left DEL, C1 controls, line separators and
// bidi overrides raw, and a cut made before escaping let 200 bidi runes come back as 1200 characters.
import assert from "node:assert/strict";
import { test } from "node:test";
import { oneLine, quoteBounded } from "../../src/util/bounded-text.ts";

test("quoteBounded escapes every control a log reader or terminal acts on", () => {
  assert.equal(quoteBounded("a\u007fb\u009bc\u2028d\u202ee\n"), '"a\\u007fb\\u009bc\\u2028d\\u202ee\\n"');
  assert.equal(quoteBounded("plain-id"), '"plain-id"');
});

test("quoteBounded bounds the escaped text, not the input, and names the full size", () => {
  const q = quoteBounded("\u202e".repeat(200), 64);
  assert.ok(q.length <= 64 + 2 + " (600 bytes)…".length, q);
  assert.match(q, /^"(\\u202e)+"… \(600 bytes\)$/);
  assert.equal(quoteBounded("x".repeat(64), 64), `"${"x".repeat(64)}"`);
});

test("oneLine escapes controls in a message that quotes its input and cuts it", () => {
  assert.equal(
    oneLine("Unexpected token '\u001b', \"\u001bV\"... is not valid JSON"),
    "Unexpected token '\\u001b', \"\\u001bV\"... is not valid JSON",
  );
  assert.match(oneLine("y".repeat(1000), 100), /^y{100}… \(1000 characters\)$/);
});
