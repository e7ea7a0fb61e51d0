// The live cost estimate beside the new-deployment form: AWS and GCP side by side, hourly and
// monthly, with the cost breakdown, the memory it needs, the optimizer's rationale and what
// spot capacity saves. Requests are debounced, and a newer one cancels the one in flight.
import { api } from "./client.js";
import { fill, h } from "./dom.js";
import { contextLabel, gb, usd } from "./format.js";
import { isAbort, messageOf } from "./http.js";

/** @typedef {import("./types.js").Estimate} Estimate */
/** @typedef {import("./types.js").Offer} Offer */
/**
 * The form's values the estimate depends on.
 * @typedef {{model: string, context_size: number, spot_tolerance: string, gpu: string, cloud: string, region: string}} EstimateForm
 */

const DEBOUNCE_MS = 300;

/**
 * @param {string} cloud
 * @param {Offer | null | undefined} offer
 * @param {boolean} isPick
 */
function offerCard(cloud, offer, isPick) {
  const title = h("h3", {}, cloud.toUpperCase(), isPick ? " · cheapest" : "");
  if (!offer)
    return h(
      "section",
      { class: "card", "data-cloud": cloud },
      title,
      h("p", { class: "muted" }, "No offer fits these constraints."),
    );
  const b = offer.breakdown;
  const hardware = offer.gpu
    ? `${offer.gpu_count}× ${offer.gpu} (${offer.gpu_memory_gib} GiB)`
    : "CPU only";
  return h(
    "section",
    { class: `card${isPick ? " pick" : ""}`, "data-cloud": cloud },
    title,
    h(
      "p",
      { class: "price" },
      h("span", { "data-field": "hourly" }, usd(offer.price_per_hour, 3)),
      "/h",
    ),
    h("p", {}, h("span", { "data-field": "monthly" }, usd(offer.price_per_month)), " per month"),
    h(
      "p",
      { class: "small" },
      `${offer.instance_type} in ${offer.region} · ${hardware} · ${offer.vcpus} vCPU, `,
      `${offer.memory_gib} GiB RAM · ${offer.spot ? "spot" : "on-demand"}`,
    ),
    h(
      "p",
      { class: "small muted" },
      b
        ? [
            `Monthly: compute ${usd(b.compute)}, disk ${usd(b.disk)} (${b.disk_gb} GB), `,
            `egress ${usd(b.egress)} (${b.egress_gb} GB)`,
          ]
        : null,
    ),
    h("p", { class: "small" }, offer.rationale),
  );
}

/**
 * @param {Estimate} result
 * @param {Estimate | null} other
 * @param {string} spot
 */
function spotLine(result, other, spot) {
  const chosen = result.recommended;
  const alt = other && other.recommended;
  if (!chosen || !alt) return null;
  const [spotOffer, onDemand] = spot === "none" ? [alt, chosen] : [chosen, alt];
  const saved = onDemand.price_per_month - spotOffer.price_per_month;
  if (saved <= 0)
    return h("p", { "data-field": "spot" }, "Spot capacity would not save money here.");
  const percent = Math.round((saved / onDemand.price_per_month) * 100);
  const text =
    spot === "none"
      ? `Tolerating spot interruptions would save ${usd(saved)} a month (${percent}%).`
      : `Spot saves ${usd(saved)} a month (${percent}%) against on-demand.`;
  return h("p", { "data-field": "spot" }, text);
}

/** @param {import("./types.js").Requirements | null} req */
function memoryLine(req) {
  if (!req) return null;
  const b = req.breakdown || {
    weights_bytes: null,
    kv_cache_bytes: null,
    graph_bytes: null,
    overhead_bytes: null,
  };
  return h(
    "p",
    { class: "small" },
    `Needs ${gb(req.total_bytes)}: weights ${gb(b.weights_bytes)}, `,
    `KV cache ${gb(b.kv_cache_bytes)}, compute graph ${gb(b.graph_bytes)}, overhead ${gb(b.overhead_bytes)}.`,
  );
}

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
