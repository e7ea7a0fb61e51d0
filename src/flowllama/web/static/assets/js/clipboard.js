// Copy-to-clipboard buttons (falls back to a hidden textarea where the Clipboard API is absent).
import { h } from "./dom.js";
import { notify } from "./notices.js";

/** @param {string} text */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = h("textarea", { "aria-hidden": "true", style: "position:fixed;left:-999px" });
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

/**
 * A button that copies `text` (or `text()`, a function, so it copies what is current) and says so.
 * @param {string} label
 * @param {string | (() => string)} text
 * @param {import("./dom.js").Attrs} [attrs]
 */
export function copyButton(label, text, attrs = {}) {
  return h(
    "button",
    {
      type: "button",
      class: "secondary",
      ...attrs,
      onclick: async () => {
        try {
          await copyText(typeof text === "function" ? text() : text);
          notify("Copied to the clipboard", "ok");
        } catch {
          notify("Copying failed: select the text and copy it by hand", "error");
        }
      },
    },
    label,
  );
}
