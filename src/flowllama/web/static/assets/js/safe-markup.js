// Markup the API renders (the load-test dashboard: escaped text, inline SVG charts) placed in
// the page without innerHTML: parsed into an inert document, then rebuilt node by node keeping
// only the listed tags and attributes, so even a bug on the server cannot inject a script, a
// handler, a style or a link elsewhere.
const HTML_TAGS = new Set([
  "section",
  "div",
  "h2",
  "h3",
  "p",
  "ul",
  "li",
  "strong",
  "b",
  "span",
  "figure",
  "figcaption",
  "details",
  "summary",
  "dl",
  "dt",
  "dd",
  "table",
  "thead",
  "tbody",
  "tr",
  "th",
  "td",
  "a",
  "code",
]);
const SVG_TAGS = new Set(["svg", "line", "text", "circle", "polyline", "title"]);
const ATTRS = new Set([
  "class",
  "role",
  "aria-label",
  "scope",
  "open",
  "viewBox",
  "x",
  "y",
  "x1",
  "x2",
  "y1",
  "y2",
  "cx",
  "cy",
  "r",
  "points",
  "fill",
  "stroke",
  "stroke-width",
  "font-size",
  "text-anchor",
  "data-loadtest-file",
]);
const SVG = "http://www.w3.org/2000/svg";

/**
 * A copy of `node` in this document, or null when the lists above do not allow it.
 * @param {Node} node  from the inert document
 * @param {boolean} inSvg  whether `node` is inside an `<svg>`
 * @returns {Node | null}
 */
function copy(node, inSvg) {
  if (node.nodeType === Node.TEXT_NODE) return document.createTextNode(node.textContent ?? "");
  if (!(node instanceof Element)) return null;
  const tag = node.localName;
  const svg = inSvg || tag === "svg";
  if (!(svg ? SVG_TAGS : HTML_TAGS).has(tag)) return null;
  const out = svg ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const { name, value } of node.attributes) {
    if (ATTRS.has(name)) out.setAttribute(name, value);
    // Links only to this API's own load-test files.
    if (
      name === "href" &&
      tag === "a" &&
      /^\/api\/deployments\/[A-Za-z0-9_-]+\/loadtests\/[A-Za-z0-9_-]+\/files\/[A-Za-z0-9._-]+$/.test(
        value,
      )
    ) {
      out.setAttribute("href", value);
    }
  }
  for (const child of node.childNodes) {
    const kept = copy(child, svg);
    if (kept) out.append(kept);
  }
  return out;
}

/**
 * DOM nodes for the server-rendered `html` (only what the lists above allow).
 * @param {string} html
 * @returns {Node[]}
 */
export function safeMarkup(html) {
  const doc = new DOMParser().parseFromString(`<!doctype html><body>${html}`, "text/html");
  return [...doc.body.childNodes].map((node) => copy(node, false)).filter((node) => node !== null);
}
