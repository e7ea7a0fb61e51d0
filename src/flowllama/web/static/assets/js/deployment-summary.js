// The deployment page's summary card (status, a failed rollout, Edit and the other actions,
// the spec, replicas and generation, prices) and its instances table.
import { actionButtons } from "./deployment-actions.js";
import { replicasOf } from "./deployment-change.js";
import { openEditDialog } from "./deployment-edit.js";
import { h, table } from "./dom.js";
import { usd, when } from "./format.js";
import { rolloutWarning, statusBadge } from "./status.js";

/** @typedef {import("./types.js").Deployment} Deployment */

/**
 * The Edit button, while the deployment can still be changed.
 * @param {Deployment} d
 * @param {(next: Deployment) => void} saved
 */
function editButton(d, saved) {
  if (d.desired_state === "deleted") return null;
  return h(
    "button",
    {
      type: "button",
      "data-action": "edit",
      "data-focus-key": `${d.id}:edit`,
      "aria-label": `edit ${d.name}`,
      onclick: () => openEditDialog(d, saved),
    },
    "Edit",
  );
}

/**
 * The summary card: status (and a failed rollout), Edit and the actions, the facts.
 * @param {Deployment} d
 * @param {(next: Deployment) => void} update  re-render with this deployment
 * @param {(next: Deployment) => void} saved  a change was accepted: re-render and reload
 */
export function summary(d, update, saved) {
  const replicas = replicasOf(d);
  /** @type {[string, string][]} */
  const facts = [
    ["Model", d.model],
    ["Runtime", d.runtime],
    ["Context", d.context_size.toLocaleString("en-US")],
    ["Parallel requests", String(d.parallel ?? 1)],
    ["Replicas", `${replicas.running} running (min ${replicas.min}, max ${replicas.max})`],
    ["Generation", String(d.generation ?? 0)],
    ["Spot tolerance", d.spot_tolerance],
    ["GPU", d.gpu],
    ["Cloud", d.cloud],
    ["Region", d.region || "—"],
    ["Instance type", d.instance_type || "—"],
    ["$/h", usd(d.price_per_hour)],
    ["Cost so far", usd(d.cost_so_far_usd)],
    ["Created", when(d.created_at)],
  ];
  return h(
    "section",
    { class: "card" },
    h(
      "div",
      { class: "row" },
      statusBadge(d.status, d.status_message),
      h(
        "span",
        { class: "row", style: "margin-left:auto" },
        editButton(d, saved),
        actionButtons(d, update),
      ),
    ),
    rolloutWarning(d),
    h(
      "dl",
      { class: "grid2 small" },
      facts.map(([k, v]) =>
        h("div", {}, h("dt", { class: "muted" }, k), h("dd", { style: "margin:0" }, v)),
      ),
    ),
  );
}

/**
 * The deployment's servers: slot and generation, status (draining since), placement, $/h.
 * @param {Deployment} d
 */
export function instances(d) {
  if (!d.instances.length) return h("p", { class: "muted" }, "No instance yet.");
  return table(
    ["Instance", "Status", "Where", "Type", "Spot", "$/h", "Last check", "Endpoint"].map(
      (label) => ({ label }),
    ),
    d.instances.map((i) => ({
      cells: [
        [
          h("code", {}, i.id.slice(0, 12)),
          h("span", { class: "small muted" }, ` ${i.slot || "first"} · gen ${i.generation ?? 0}`),
        ],
        i.status +
          (i.draining_since ? ` since ${when(i.draining_since)}` : "") +
          (i.last_error ? ` (${i.last_error})` : ""),
        [i.provider, i.cloud, i.region, i.zone].filter(Boolean).join(" / "),
        i.instance_type || "—",
        i.spot ? "yes" : "no",
        usd(i.price_per_hour),
        when(i.last_check_at),
        i.endpoint_url || "—",
      ],
    })),
  );
}
