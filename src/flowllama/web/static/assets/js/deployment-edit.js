// The Edit dialog of a deployment: model, context, parallel requests, spot tolerance, GPU,
// region, instance type, idle sleep, replicas and auto-move in one form. Only what changed is
// sent; a refusal shows at its field and keeps the dialog open; success closes it.
import { api } from "./client.js";
import { changes, sendChange } from "./deployment-change.js";
import { autopilotFields, specFields } from "./deployment-edit-fields.js";
import { h, select } from "./dom.js";
import { fieldError, submitting, values } from "./forms.js";
import { notify, notifyError } from "./notices.js";
import { checkDeploymentChange } from "./validation.js";

/** @typedef {import("./types.js").Deployment} Deployment */
/** @typedef {import("./types.js").CatalogModel} CatalogModel */

/**
 * @param {HTMLFormElement} form
 * @param {Deployment} d
 * @param {CatalogModel[]} models
 * @param {HTMLDialogElement} dialog
 * @param {(next: Deployment) => void} onSaved
 */
async function save(form, d, models, dialog, onSaved) {
  const data = values(form);
  const chosen = models.find((m) => m.name === data.model);
  const problem = checkDeploymentChange(data, chosen ? chosen.context_length : null);
  if (problem) {
    fieldError(form, ...problem);
    return;
  }
  const change = changes(d, data);
  if (!Object.keys(change).length) {
    fieldError(form, null, "Nothing changed");
    return;
  }
  const next = await sendChange(d, change);
  dialog.close();
  const rollout = (next.generation ?? 0) > (d.generation ?? 0);
  notify(
    rollout
      ? `${d.name}: change saved; generation ${next.generation} is rolling out without a gap`
      : `${d.name}: change saved`,
    "ok",
  );
  onSaved(next);
}

/**
 * Open the Edit dialog for `d`; `onSaved(next)` gets the deployment the API answered.
 * @param {Deployment} d
 * @param {(next: Deployment) => void} onSaved
 */
export async function openEditDialog(d, onSaved) {
  let catalog;
  try {
    catalog = /** @type {{items: CatalogModel[], families: string[]}} */ (
      await api.get("/api/models")
    );
  } catch (exc) {
    notifyError(exc);
    return;
  }
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const form = h(
    "form",
    { id: "edit-form", novalidate: true },
    h("h2", { id: "edit-title" }, `Edit ${d.name}`),
    h(
      "p",
      { class: "small muted" },
      "A change of model, size or placement starts new servers first; the current ones serve until they are healthy.",
    ),
    h("div", { class: "form-alert" }),
    specFields(d, catalog.items, catalog.families),
    autopilotFields(d),
    h(
      "div",
      { class: "row", style: "margin-top:1rem" },
      h("button", { type: "submit" }, "Save"),
      cancel,
    ),
  );
  const dialog = h("dialog", { class: "wide", "aria-labelledby": "edit-title" }, form);
  cancel.addEventListener("click", () => dialog.close());
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, "Saving…", () => save(form, d, catalog.items, dialog, onSaved));
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  select(form, "#edit-model", HTMLSelectElement).focus();
}
