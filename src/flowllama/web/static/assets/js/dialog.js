// Confirmation dialogs on <dialog>: focus is trapped and Escape cancels, natively.
import { h } from "./dom.js";

/**
 * Ask before something that cannot be undone. With `typeToConfirm`, the confirm button stays
 * disabled until the user has typed that exact text. Resolves to true when confirmed.
 * @param {{title: string, message: string, confirmLabel?: string, typeToConfirm?: string | null}} options
 * @returns {Promise<boolean>}
 */
export function confirmDialog({ title, message, confirmLabel = "Confirm", typeToConfirm = null }) {
  return new Promise((resolve) => {
    const input = typeToConfirm
      ? h("input", {
          id: "confirm-text",
          name: "confirm",
          autocomplete: "off",
          spellcheck: "false",
        })
      : null;
    const ok = h(
      "button",
      { type: "submit", class: "danger", disabled: Boolean(typeToConfirm) },
      confirmLabel,
    );
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", { id: "dialog-title" }, title),
      h("p", {}, message),
      input && [
        h("label", { for: "confirm-text" }, "Type ", h("code", {}, typeToConfirm), " to confirm"),
        input,
      ],
      h("div", { class: "row", style: "margin-top:1rem" }, ok, cancel),
    );
    const dialog = h("dialog", { "aria-labelledby": "dialog-title" }, form);
    let confirmed = false;
    if (input)
      input.addEventListener("input", () => {
        ok.disabled = input.value !== typeToConfirm;
      });
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", () => {
      confirmed = !typeToConfirm || (input !== null && input.value === typeToConfirm);
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(confirmed);
    });
    document.body.append(dialog);
    dialog.showModal();
    (input || ok).focus();
  });
}
