// The Edit dialog of a deployment: model, context, parallel requests, spot tolerance, GPU,
// region, instance type, idle sleep, replicas and auto-move in one form. Only what changed is
// sent; a refusal shows at its field and keeps the dialog open; success closes it.
import { api } from "./client.js";
import { changes, idleMinutes, replicasOf, sendChange } from "./deployment-change.js";
import { field, GPUS, modelSelect, SPOT } from "./deployment-form.js";
import { h, select } from "./dom.js";
import { fieldError, submitting, values } from "./forms.js";
import { notify, notifyError } from "./notices.js";
import { checkDeploymentChange } from "./validation.js";

/** @typedef {import("./types.js").Deployment} Deployment */
/** @typedef {import("./types.js").CatalogModel} CatalogModel */

/**
 * @param {string[][]} pairs
 * @param {string} chosen  added as an option when the list lacks it
 */
function options(pairs, chosen) {
  const all = pairs.some(([v]) => v === chosen) ? pairs : [...pairs, [chosen, chosen]];
  return all.map(([v, l]) => h("option", { value: v, selected: v === chosen }, l));
}

/**
 * @param {string} name
 * @param {string | number} value
 * @param {Record<string, unknown>} [extra]
 */
function input(name, value, extra = {}) {
  return h("input", { id: `edit-${name}`, name, value: String(value), ...extra });
}

/**
 * @param {Deployment} d
 * @param {CatalogModel[]} models
 * @param {string[]} families
 */
function specFields(d, models, families) {
  const model = modelSelect(models, families, "edit-model");
  if (!models.some((m) => m.name === d.model)) model.append(h("option", {}, d.model));
  model.value = d.model;
  const local = d.cloud === "local"; // this machine: no region or instance type to choose
  const where = local ? { disabled: true, placeholder: "this machine" } : {};
  return [
    field("Model", model),
    h(
      "div",
      { class: "inline-fields" },
      field("Context size", input("context_size", d.context_size, { type: "number", min: 256 })),
      field(
        "Parallel requests",
        input("parallel", d.parallel ?? 1, { type: "number", min: 1, max: 64 }),
      ),
    ),
    field(
      "Spot tolerance",
      h(
        "select",
        { id: "edit-spot_tolerance", name: "spot_tolerance" },
        options(SPOT, d.spot_tolerance),
      ),
    ),
    field("GPU", h("select", { id: "edit-gpu", name: "gpu" }, options(GPUS, d.gpu))),
    h(
      "div",
      { class: "inline-fields" },
      field(
        "Region",
        input("region", d.region || "", { autocomplete: "off", placeholder: "cheapest", ...where }),
      ),
      field(
        "Instance type",
        input("instance_type", d.instance_type || "", {
          autocomplete: "off",
          placeholder: "cheapest fit",
          ...where,
        }),
      ),
    ),
  ];
}

/** @param {Deployment} d */
function autopilotFields(d) {
  const minutes = idleMinutes(d);
  const on = h("input", {
    id: "edit-idle_on",
    name: "idle_on",
    type: "checkbox",
    checked: minutes !== null,
  });
  const amount = input("idle_minutes", minutes ?? 30, {
    type: "number",
    min: 1,
    disabled: minutes === null,
  });
  on.addEventListener("change", () => {
    amount.disabled = !on.checked;
  });
  const replicas = replicasOf(d);
  return [
    h(
      "fieldset",
      {},
      h("legend", {}, "Sleep when idle"),
      h(
        "label",
        { for: "edit-idle_on", style: "font-weight:400" },
        on,
        " Sleep after no requests for",
      ),
      field("Minutes", amount),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Replicas (servers behind the gateway)"),
      h(
        "div",
        { class: "inline-fields" },
        field("Minimum", input("replicas_min", replicas.min, { type: "number", min: 1, max: 16 })),
        field("Maximum", input("replicas_max", replicas.max, { type: "number", min: 1, max: 16 })),
      ),
    ),
    h(
      "label",
      { for: "edit-auto_move", style: "font-weight:400" },
      h("input", {
        id: "edit-auto_move",
        name: "auto_move",
        type: "checkbox",
        checked: Boolean(d.auto_move),
      }),
      " Move to a cheaper placement automatically when the advisor finds one",
    ),
  ];
}

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
