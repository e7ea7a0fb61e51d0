// Short messages in a polite live region, so screen readers announce them too.
import { h } from "./dom.js";

function region() {
  let node = document.getElementById("notices");
  if (!node) {
    node = h("div", { id: "notices", class: "notices", role: "status", "aria-live": "polite" });
    document.body.append(node);
  }
  return node;
}

/** Show `message` for a few seconds; kind is "info", "ok" or "error" (errors stay longer). */
export function notify(message, kind = "info") {
  const node = h("div", { class: `notice ${kind}` }, message);
  region().append(node);
  setTimeout(() => node.remove(), kind === "error" ? 8000 : 4000);
}

export function notifyError(exc) {
  notify(exc && exc.message ? exc.message : String(exc), "error");
}
