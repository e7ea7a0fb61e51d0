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

const MAX_SHOWN = 3; // older ones go, so notices never pile up over the page

/** Show `message` for a few seconds; kind is "info", "ok" or "error" (errors stay longer). */
export function notify(message, kind = "info") {
  const node = h(
    "div",
    { class: `notice ${kind}` },
    message,
    h(
      "button",
      {
        type: "button",
        class: "link dismiss",
        "aria-label": "Dismiss",
        onclick: () => node.remove(),
      },
      "×",
    ),
  );
  const shown = region();
  shown.append(node);
  while (shown.children.length > MAX_SHOWN) shown.firstElementChild.remove();
  setTimeout(() => node.remove(), kind === "error" ? 8000 : 4000);
}

export function notifyError(exc) {
  notify(exc && exc.message ? exc.message : String(exc), "error");
}
