// The live cost estimate beside the new-deployment form: AWS and GCP side by side, hourly and
// monthly, with the cost breakdown, the memory it needs, the optimizer's rationale and what
// spot capacity saves. Requests are debounced, and a newer one cancels the one in flight.
import { api } from "./client.js";
import { fill, h } from "./dom.js";
import { memoryLine, offerCard, spotLine } from "./estimate-parts.js";
import { contextLabel } from "./format.js";
import { isAbort, messageOf } from "./http.js";

/** @typedef {import("./types.js").Estimate} Estimate */
/** @typedef {import("./types.js").Offer} Offer */
/**
 * The form's values the estimate depends on.
 * @typedef {{model: string, context_size: number, spot_tolerance: string, gpu: string, cloud: string, region: string}} EstimateForm
 */

const DEBOUNCE_MS = 300;

/**
 * @param {HTMLElement} panel
 * @param {EstimateForm} form
 * @param {Estimate} result
 * @param {Estimate | null} other
 */
function render(panel, form, result, other) {
  const pick = result.recommended && result.recommended.cloud;
  panel.dataset.context = String(result.context_size);
  fill(
    panel,
    h("h2", {}, `Estimate for ${result.model} at ${contextLabel(result.context_size)} context`),
    form.cloud === "local"
      ? h(
          "p",
          { class: "alert", style: "border-color:#166534;color:#166534;background:#f0fdf4" },
          "Cloud “local” runs on this machine at no cloud cost; below is what the same model costs in the cloud.",
        )
      : null,
    result.reason ? h("p", { class: "alert" }, result.reason) : null,
    h(
      "div",
      { class: "grid2" },
      ["aws", "gcp"].map((c) => offerCard(c, result.by_cloud[c], c === pick)),
    ),
    spotLine(result, other, form.spot_tolerance),
    memoryLine(result.requirements),
    h("p", { class: "small muted" }, `Prices: ${result.source}, as of ${result.as_of}.`),
  );
}

/**
 * @param {EstimateForm} form
 * @param {string} spot
 */
function params(form, spot) {
  return {
    model: form.model,
    context_size: form.context_size,
    spot_tolerance: spot,
    gpu: form.gpu,
    clouds: "aws,gcp",
    regions: form.cloud === "aws" || form.cloud === "gcp" ? form.region : "",
  };
}

/**
 * An estimator bound to `panel`: call `update(form)` on every change of the form;
 * `onResult(estimate)` sees each estimate shown.
 * @param {HTMLElement} panel
 * @param {(estimate: Estimate) => void} [onResult]
 */
export function estimator(panel, onResult = () => {}) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @type {AbortController | null} */
  let controller = null;
  /** @param {EstimateForm} form */
  async function run(form) {
    if (controller) controller.abort();
    controller = new AbortController();
    const signal = controller.signal;
    panel.classList.add("loading");
    panel.setAttribute("aria-busy", "true");
    try {
      const otherSpot = form.spot_tolerance === "none" ? "high" : "none";
      const [result, other] = /** @type {[Estimate, Estimate | null]} */ (
        await Promise.all([
          api.get("/api/pricing/estimate", params(form, form.spot_tolerance), { signal }),
          api.get("/api/pricing/estimate", params(form, otherSpot), { signal }).catch(() => null),
        ])
      );
      render(panel, form, result, other);
      onResult(result);
    } catch (exc) {
      if (isAbort(exc)) return;
      fill(
        panel,
        h("h2", {}, "Estimate"),
        h("p", { class: "alert", role: "alert" }, messageOf(exc)),
      );
    } finally {
      if (!signal.aborted) {
        panel.classList.remove("loading");
        panel.removeAttribute("aria-busy");
      }
    }
  }
  return {
    /** @param {EstimateForm} form */
    update(form) {
      clearTimeout(timer);
      panel.classList.add("loading");
      timer = setTimeout(() => run(form), DEBOUNCE_MS);
    },
    stop() {
      clearTimeout(timer);
      if (controller) controller.abort();
    },
  };
}
