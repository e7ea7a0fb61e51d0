// The pieces of the estimate panel: one cloud's offer, what spot capacity saves, and the memory
// the model needs (estimate.js lays them out).
import { gb, usd } from "./format.js";
import { h } from "./dom.js";

/** @typedef {import("./types.js").Estimate} Estimate */
/** @typedef {import("./types.js").Offer} Offer */

/**
 * @param {string} cloud
 * @param {Offer | null | undefined} offer
 * @param {boolean} isPick
 */
export function offerCard(cloud, offer, isPick) {
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
            `Monthly: compute ${usd(b.compute)}, disk ${usd(b.disk)} (${b.disk_gb} GiB), `,
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
export function spotLine(result, other, spot) {
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
export function memoryLine(req) {
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
