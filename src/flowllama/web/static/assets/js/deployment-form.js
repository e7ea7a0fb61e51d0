// The new-deployment form's fields: model grouped by family, context slider, spot tolerance,
// GPU, cloud and region (views/new-deployment.js wires it to the estimate and the API).
import { h } from "./dom.js";
import { contextLabel, gb } from "./format.js";

/** @typedef {import("./types.js").CatalogModel} CatalogModel */

export const GPUS = [
  ["auto", "Auto (cheapest fit)"],
  ["none", "CPU only (no GPU)"],
  ["T4", "T4"],
  ["L4", "L4"],
  ["A10G", "A10G"],
  ["A100", "A100"],
  ["H100", "H100"],
];
const CLOUDS = [
  ["auto", "Auto (cheapest of AWS and GCP)"],
  ["aws", "AWS"],
  ["gcp", "GCP"],
  ["local", "Local (this machine)"],
];
export const SPOT = [
  ["none", "On-demand only"],
  ["low", "Spot, if interruptions are rare"],
  ["high", "Spot, any"],
];

/**
 * A labelled input in its `.field` wrapper (where a field error goes).
 * @param {string} label
 * @param {HTMLElement} input
 * @param {string} [hint]
 */
export function field(label, input, hint) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: input.id }, label, hint ? h("span", { class: "hint" }, ` ${hint}`) : null),
    input,
  );
}

/**
 * The catalog's models grouped by family, as a select named `model`.
 * @param {CatalogModel[]} models
 * @param {string[]} families
 * @param {string} [id]
 */
export function modelSelect(models, families, id = "model") {
  return h(
    "select",
    { id, name: "model", required: true },
    families.map((family) =>
      h(
        "optgroup",
        { label: family },
        models
          .filter((m) => m.family === family)
          .map((m) =>
            h(
              "option",
              { value: m.name },
              `${m.name} — ${m.parameters}, ${gb(m.size_bytes)}, up to ${contextLabel(m.context_length)} context`,
            ),
          ),
      ),
    ),
  );
}

/**
 * @param {CatalogModel[]} models
 * @param {string[]} families
 */
export function buildForm(models, families) {
  /** @type {(pairs: string[][]) => HTMLOptionElement[]} */
  const options = (pairs) => pairs.map(([v, l]) => h("option", { value: v }, l));
  const context = h("input", {
    id: "context_size",
    name: "context_size",
    type: "range",
    min: 256,
    step: 256,
    value: 4096,
    "aria-describedby": "context-value",
  });
  return h(
    "form",
    { id: "deploy-form", class: "card", novalidate: true },
    h("div", { class: "form-alert" }),
    field(
      "Name",
      h("input", {
        id: "name",
        name: "name",
        required: true,
        maxlength: 63,
        autocomplete: "off",
        pattern: "[a-z0-9-]{1,63}",
        spellcheck: "false",
      }),
      "(lowercase letters, digits and '-'; the model name in API calls)",
    ),
    field("Model", modelSelect(models, families)),
    h("p", { id: "model-info", class: "small muted" }),
    field("Context size", context),
    h("p", { class: "small" }, h("output", { id: "context-value", for: "context_size" })),
    h(
      "fieldset",
      {},
      h("legend", {}, "Spot tolerance"),
      SPOT.map(([v, l], i) =>
        h(
          "label",
          { style: "font-weight:400" },
          h("input", { type: "radio", name: "spot_tolerance", value: v, checked: i === 0 }),
          " ",
          l,
        ),
      ),
    ),
    field("GPU", h("select", { id: "gpu", name: "gpu" }, options(GPUS))),
    field("Cloud", h("select", { id: "cloud", name: "cloud" }, options(CLOUDS))),
    field(
      "Region",
      h("input", {
        id: "region",
        name: "region",
        list: "regions",
        autocomplete: "off",
        placeholder: "cheapest region",
      }),
      "(optional)",
    ),
    h("datalist", { id: "regions" }),
    h("p", {}, h("button", { type: "submit" }, "Deploy")),
  );
}
