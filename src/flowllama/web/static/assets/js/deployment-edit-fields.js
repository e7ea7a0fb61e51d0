// The Edit dialog's inputs, filled from the deployment: model, context, parallel requests, spot
// tolerance, GPU, region and instance type (none on this machine), idle sleep, replicas and
// auto-move. Input names are the API's fields, except idle_on/idle_minutes and replicas_min/max.
import { idleMinutes, replicasOf } from "./deployment-change.js";
import { field, GPUS, modelSelect, SPOT } from "./deployment-form.js";
import { h } from "./dom.js";

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
 * Model, size and placement constraints of `d`, as the edit form's inputs.
 * @param {Deployment} d
 * @param {CatalogModel[]} models
 * @param {string[]} families
 */
export function specFields(d, models, families) {
  const model = modelSelect(models, families, "edit-model");
  if (!models.some((m) => m.name === d.model)) model.append(h("option", {}, d.model));
  model.value = d.model;
  const local = d.cloud === "local"; // this machine: no region or instance type to choose
  const where = local ? { disabled: true, placeholder: "this machine" } : {};
  // An external server's model and placement are its administrator's: shown, not sent.
  const external = d.cloud === "external";
  return h(
    "fieldset",
    { id: "edit-spec", disabled: external },
    h("legend", {}, "Model and placement"),
    external
      ? h("p", { class: "small muted" }, "An external server: only the settings below change.")
      : null,
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
  );
}

/**
 * Idle sleep, replicas and auto-move of `d`, as the edit form's inputs.
 * @param {Deployment} d
 */
export function autopilotFields(d) {
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
