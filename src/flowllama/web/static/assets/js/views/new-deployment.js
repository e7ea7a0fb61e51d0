// New deployment form: model grouped by family, context slider bounded by the model, spot
// tolerance, GPU, cloud and region, checked as the API checks them, with a live estimate.
import { api } from "../client.js";
import { estimator } from "../estimate.js";
import { buildForm } from "../deployment-form.js";
import { fill, h, select } from "../dom.js";
import { fieldError, submitting, values } from "../forms.js";
import { messageOf } from "../http.js";
import { notify } from "../notices.js";
import { checkDeploymentName, REGION_RULE } from "../validation.js";

/** @typedef {import("../types.js").CatalogModel} CatalogModel */

/**
 * @param {Record<string, string>} data
 * @returns {[string, string] | null}
 */
function check(data) {
  const nameProblem = checkDeploymentName(data.name);
  if (nameProblem) return ["name", nameProblem];
  if (data.region && !REGION_RULE.test(data.region))
    return ["region", "A region is 2 to 64 characters of a-z, 0-9 and '-'"];
  return null;
}

/** @param {Record<string, string>} data */
function body(data) {
  /** @type {Record<string, string | number>} */
  const out = {
    name: data.name,
    model: data.model,
    context_size: Number(data.context_size),
    spot_tolerance: data.spot_tolerance,
    gpu: data.gpu,
    cloud: data.cloud,
  };
  if (data.region && data.cloud !== "local") out.region = data.region;
  return out;
}

// The context the user last chose, kept when a model with a smaller limit comes and goes.
let wantedContext = 4096;

/**
 * @param {HTMLFormElement} form
 * @param {CatalogModel[]} models
 */
function syncModel(form, models) {
  const chosen = select(form, "#model", HTMLSelectElement).value;
  const model = models.find((m) => m.name === chosen);
  if (!model) return;
  const slider = select(form, "#context_size", HTMLInputElement);
  slider.max = String(model.context_length);
  slider.value = String(Math.min(wantedContext, model.context_length));
  fill(
    select(form, "#model-info", HTMLElement),
    `${model.typical_use}. Context up to ${model.context_length.toLocaleString("en-US")} tokens.`,
  );
}

/** @param {HTMLElement} root */
export function mount(root) {
  const panel = h(
    "div",
    { id: "estimate", class: "estimate", "aria-live": "polite" },
    h("p", { class: "muted" }, "Loading the estimate…"),
  );
  const holder = h(
    "div",
    { "aria-busy": "true" },
    h("p", { class: "muted" }, "Loading the model catalog…"),
  );
  fill(root, h("h1", {}, "New deployment"), h("div", { class: "grid2" }, holder, panel));
  const live = estimator(panel, (result) => {
    const regions = [...new Set(result.candidates.map((c) => c.region))].sort();
    const list = root.querySelector("#regions");
    if (list)
      fill(
        list,
        regions.map((r) => h("option", { value: r })),
      );
  });

  api
    .get("/api/models")
    .then((answer) => {
      const { items, families } = /** @type {{items: CatalogModel[], families: string[]}} */ (
        answer
      );
      const form = buildForm(items, families);
      const region = select(form, "#region", HTMLInputElement);
      const context = select(form, "#context_size", HTMLInputElement);
      fill(holder, form);
      holder.removeAttribute("aria-busy");
      const changed = () => {
        const data = values(form);
        select(form, "#context-value", HTMLOutputElement).textContent =
          `${Number(data.context_size).toLocaleString("en-US")} tokens`;
        region.disabled = data.cloud === "local";
        if (data.model)
          live.update({
            model: data.model,
            context_size: Number(data.context_size),
            spot_tolerance: data.spot_tolerance,
            gpu: data.gpu,
            cloud: data.cloud,
            region: data.region || "",
          });
      };
      wantedContext = 4096;
      select(form, "#model", HTMLSelectElement).addEventListener("change", () =>
        syncModel(form, items),
      );
      context.addEventListener("input", () => {
        wantedContext = Number(context.value);
      });
      form.addEventListener("input", changed);
      form.addEventListener("change", changed);
      syncModel(form, items);
      changed();
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const data = values(form);
        submitting(form, "Deploying…", async () => {
          const problem = check(data);
          if (problem) {
            fieldError(form, ...problem);
            return;
          }
          // One key per submission: a retried request can never create a second deployment.
          // randomUUID exists only in secure contexts (https or localhost).
          const key =
            typeof window.crypto.randomUUID === "function"
              ? crypto.randomUUID()
              : `${Date.now()}-${Math.random()}`;
          const created = /** @type {import("../types.js").Deployment} */ (
            await api.post("/api/deployments", body(data), {
              headers: { "Idempotency-Key": key },
            })
          );
          notify(`${created.name} is being deployed`, "ok");
          window.location.hash = "#/deployments";
        });
      });
    })
    .catch((exc) => fill(holder, h("p", { class: "alert", role: "alert" }, messageOf(exc))));
  return () => live.stop();
}
