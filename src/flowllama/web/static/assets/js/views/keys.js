// API keys: create one (the key is shown once, with a copy button), list them with prefix,
// limits and last use, and revoke after a confirmation.
import { copyButton } from "../clipboard.js";
import { api } from "../client.js";
import { confirmDialog } from "../dialog.js";
import { fill, h, table } from "../dom.js";
import { count, when } from "../format.js";
import { fieldError, submitting, values } from "../forms.js";
import { notify, notifyError } from "../notices.js";

/** @typedef {import("../types.js").ApiKey} ApiKey */
/** @typedef {import("../types.js").CreatedKey} CreatedKey */

/** @param {ApiKey} k */
function limits(k) {
  const parts = [
    k.rpm && `${count(k.rpm)} req/min`,
    k.tpm && `${count(k.tpm)} tokens/min`,
    k.monthly_token_budget && `${count(k.monthly_token_budget)} tokens/month`,
  ].filter(Boolean);
  return parts.length ? parts.join(", ") : "none";
}

/** @param {(created: CreatedKey) => void} onCreated */
function createForm(onCreated) {
  /** @type {(id: string, label: string) => HTMLElement} */
  const number = (id, label) =>
    h(
      "div",
      { class: "field" },
      h("label", { for: id }, label, h("span", { class: "hint" }, " (optional)")),
      h("input", { id, name: id, type: "number", min: 1, inputmode: "numeric" }),
    );
  const form = h(
    "form",
    { id: "key-form", class: "card", novalidate: true },
    h("h2", {}, "Create a key"),
    h("div", { class: "form-alert" }),
    h(
      "div",
      { class: "field" },
      h("label", { for: "key-name" }, "Name"),
      h("input", { id: "key-name", name: "name", required: true, maxlength: 100 }),
    ),
    h(
      "div",
      { class: "grid2" },
      number("rpm", "Requests per minute"),
      number("tpm", "Tokens per minute"),
      number("monthly_token_budget", "Tokens per month"),
    ),
    h("p", {}, h("button", { type: "submit" }, "Create key")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = values(form);
    submitting(form, "Creating…", async () => {
      if (!data.name.trim()) {
        fieldError(form, "name", "Give the key a name");
        return;
      }
      /** @type {Record<string, string | number>} */
      const body = { name: data.name.trim() };
      for (const limit of ["rpm", "tpm", "monthly_token_budget"])
        if (data[limit]) body[limit] = Number(data[limit]);
      onCreated(/** @type {CreatedKey} */ (await api.post("/api/keys", body)));
      form.reset();
    });
  });
  return form;
}

/** @param {CreatedKey} created */
function shownOnce(created) {
  return h(
    "section",
    { class: "secret", id: "new-key", role: "status" },
    h(
      "p",
      {},
      h("strong", {}, `Key “${created.name}” created. `),
      "Copy it now: it is shown only this once.",
    ),
    h(
      "div",
      { class: "row" },
      h("code", { id: "new-key-value" }, created.key),
      copyButton("Copy key", created.key, { "data-copy": "key" }),
    ),
  );
}

/** @param {HTMLElement} root */
export function mount(root) {
  const secret = h("div", {});
  const list = h("div", { "aria-busy": "true" }, h("p", { class: "muted" }, "Loading your keys…"));
  fill(
    root,
    h("h1", {}, "API keys"),
    secret,
    createForm((created) => {
      fill(secret, shownOnce(created));
      load();
    }),
    h("h2", {}, "Your keys"),
    list,
  );

  /** @param {ApiKey} k */
  async function revoke(k) {
    const sure = await confirmDialog({
      title: `Revoke ${k.name}?`,
      confirmLabel: "Revoke",
      message: `Requests with the key ${k.prefix}… are refused from now on. This cannot be undone.`,
    });
    if (!sure) return;
    try {
      await api.del(`/api/keys/${k.id}`);
      notify(`Key ${k.name} revoked`, "ok");
      load();
    } catch (exc) {
      notifyError(exc);
    }
  }

  async function load() {
    try {
      const keys = /** @type {ApiKey[]} */ (await api.get("/api/keys"));
      list.removeAttribute("aria-busy");
      if (!keys.length) {
        fill(list, h("p", { class: "muted" }, "No keys yet."));
        return;
      }
      fill(
        list,
        table(
          ["Name", "Prefix", "Limits", "Models", "Created", "Last used", "Expires", ""].map(
            (label) => ({ label }),
          ),
          keys.map((k) => ({
            attrs: { "data-key": k.name },
            cells: [
              k.name,
              h("code", {}, `${k.prefix}…`),
              limits(k),
              k.models ? k.models.join(", ") : "all",
              when(k.created_at),
              when(k.last_used_at),
              k.expires_at ? when(k.expires_at) : "never",
              h(
                "button",
                {
                  type: "button",
                  class: "danger",
                  "aria-label": `Revoke ${k.name}`,
                  onclick: () => revoke(k),
                },
                "Revoke",
              ),
            ],
          })),
        ),
      );
    } catch (exc) {
      notifyError(exc);
    }
  }
  load();
}
