// The advisor's open recommendation as a card: where the deployment runs now and where it could
// run, both $/h, and the monthly saving; Accept moves it (blue/green), Dismiss drops the card.
import { api } from "./client.js";
import { h } from "./dom.js";
import { usd } from "./format.js";
import { notify, notifyError } from "./notices.js";

/** @typedef {import("./types.js").Deployment} Deployment */
/** @typedef {import("./types.js").Placement} Placement */
/** @typedef {import("./types.js").Recommendation} Recommendation */

/** @param {Placement | null | undefined} p */
export function placementText(p) {
  if (!p) return "—";
  const where = [p.cloud, p.region, p.zone, p.instance_type].filter(Boolean).join(" / ");
  return p.spot ? `${where} (spot)` : where;
}

/**
 * @param {string} title
 * @param {string} field
 * @param {Placement | null | undefined} placement
 * @param {number} price
 * @param {string} per  "/h", or "/h per server" with replicas
 */
function side(title, field, placement, price, per) {
  return h(
    "div",
    { "data-field": field },
    h("h3", { class: "small muted", style: "margin:0" }, title),
    h("p", { style: "margin:0.25rem 0" }, placementText(placement)),
    h("p", { class: "price", style: "margin:0" }, `${usd(price)}${per}`),
  );
}

/**
 * @param {Deployment} d
 * @param {Recommendation} rec
 * @param {"accept" | "dismiss"} decision
 * @param {() => void} refresh
 */
async function decide(d, rec, decision, refresh) {
  try {
    await api.post(`/api/deployments/${d.id}/recommendations/${rec.id}/${decision}`);
    notify(
      decision === "accept"
        ? `${d.name}: moving to ${placementText(rec.placement)}; the current server serves until the new one is healthy`
        : `${d.name}: recommendation dismissed`,
      "ok",
    );
  } catch (exc) {
    notifyError(exc);
  }
  refresh();
}

/**
 * The card for `d`'s open recommendation, or null when it has none.
 * @param {Deployment} d
 * @param {() => void} refresh  reload the page's deployment after a decision
 */
export function recommendationCard(d, refresh) {
  const rec = d.recommendation;
  if (!rec || rec.status !== "open") return null;
  /** @param {"accept" | "dismiss"} decision */
  const button = (decision) =>
    h(
      "button",
      {
        type: "button",
        class: decision === "accept" ? null : "secondary",
        "data-action": `${decision}-recommendation`,
        "data-focus-key": `${rec.id}:${decision}`,
        onclick: (/** @type {Event} */ event) => {
          const target = event.currentTarget;
          if (target instanceof HTMLButtonElement) target.disabled = true;
          decide(d, rec, decision, refresh);
        },
      },
      decision === "accept" ? "Accept and move" : "Dismiss",
    );
  const per = d.replicas && d.replicas.running > 1 ? "/h per server" : "/h";
  return h(
    "section",
    { class: "card recommendation", id: "recommendation", "data-id": rec.id },
    h("h2", {}, "A cheaper placement"),
    h(
      "div",
      { class: "compare" },
      side("Now", "current", d.placement, rec.current_price_per_hour, per),
      side("Move to", "new", rec.placement, rec.new_price_per_hour, per),
    ),
    h(
      "p",
      {},
      "Saves ",
      h("span", { class: "saving", "data-field": "monthly-saving" }, usd(rec.monthly_saving_usd)),
      ` a month (${Math.round(rec.saving_percent)} %). The move is blue/green: no request is lost.`,
    ),
    h("div", { class: "row" }, button("accept"), button("dismiss")),
  );
}
