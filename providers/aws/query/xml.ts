// A reader for EC2's Query answers, which are elements and text only: the attributes EC2 sends
// (the root's xmlns) are skipped and entities are decoded. Not a general XML parser: it reads
// what EC2 and moto answer and throws on anything unbalanced.

export interface XmlNode {
  name: string;
  children: XmlNode[];
  /** The element's text, entities decoded (left empty for elements that only hold others). */
  text: string;
}

const ENTITY = /&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g;
const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decode(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(ENTITY, (_m, e: string) => {
    if (e[0] !== "#") return NAMED[e] ?? "";
    return String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

function skipTo(xml: string, from: number, end: string): number {
  const at = xml.indexOf(end, from);
  if (at < 0) throw new Error(`malformed XML: no ${end} after offset ${from}`);
  return at + end.length;
}

/** The document as a tree; its root element is the only child of the returned node. */
export function parseXml(xml: string): XmlNode {
  const doc: XmlNode = { name: "", children: [], text: "" };
  const open: XmlNode[] = [doc];
  let i = 0;
  while (i < xml.length) {
    const top = open[open.length - 1];
    const lt = xml.indexOf("<", i);
    if (lt < 0) break;
    if (lt > i && open.length > 1) top.text += decode(xml.slice(i, lt));
    if (xml.startsWith("<![CDATA[", lt)) {
      i = skipTo(xml, lt, "]]>");
      top.text += xml.slice(lt + 9, i - 3);
      continue;
    }
    if (xml.startsWith("<?", lt)) {
      i = skipTo(xml, lt, "?>");
      continue;
    }
    if (xml.startsWith("<!--", lt)) {
      i = skipTo(xml, lt, "-->");
      continue;
    }
    const gt = xml.indexOf(">", lt);
    if (gt < 0) throw new Error(`malformed XML: unterminated tag at offset ${lt}`);
    i = gt + 1;
    if (xml[lt + 1] === "!") continue;
    if (xml[lt + 1] === "/") {
      const name = xml.slice(lt + 2, gt).trim();
      if (open.length < 2 || top.name !== name)
        throw new Error(`malformed XML: </${name}> does not close <${top.name || "(document)"}>`);
      open.pop();
      continue;
    }
    const selfClosing = xml[gt - 1] === "/";
    const tag = xml.slice(lt + 1, selfClosing ? gt - 1 : gt);
    const space = tag.search(/\s/);
    const node: XmlNode = { name: space < 0 ? tag : tag.slice(0, space), children: [], text: "" };
    top.children.push(node);
    if (!selfClosing) open.push(node);
  }
  if (open.length !== 1) throw new Error(`malformed XML: <${open[open.length - 1].name}> is not closed`);
  if (doc.children.length !== 1) throw new Error("malformed XML: not one root element");
  return doc;
}

export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return node?.children.find((c) => c.name === name);
}

/** The text of the named child, or undefined when there is no such child. */
export function textOf(node: XmlNode | undefined, name: string): string | undefined {
  return child(node, name)?.text;
}

/** The `<item>`s of an EC2 list element (`<instancesSet><item>…</item></instancesSet>`). */
export function items(node: XmlNode | undefined, listName: string): XmlNode[] {
  return child(node, listName)?.children.filter((c) => c.name === "item") ?? [];
}
