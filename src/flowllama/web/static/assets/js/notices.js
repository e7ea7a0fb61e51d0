// Short messages in a polite live region, so screen readers announce them too.
import { h } from "./dom.js";
import { messageOf } from "./http.js";

function region() {
  let node = document.getElementById("notices");
  if (!node) {
    node = h("div", { id: "notices", class: "notices", role: "status", "aria-live": "polite" });
    document.body.append(node);
  }
  return node;
}

const MAX_SHOWN = 3; // older ones go, so notices never pile up over the page

/**
 * Show `message` for a few seconds (errors stay longer).
 * @param {string} message
 * @param {"info" | "ok" | "error"} [kind]
 */
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
  while (shown.firstElementChild && shown.children.length > MAX_SHOWN)
    shown.firstElementChild.remove();
  setTimeout(() => node.remove(), kind === "error" ? 8000 : 4000);
}

/** @param {unknown} exc */
export function notifyError(exc) {
  notify(messageOf(exc), "error");
}
