// Deployment detail: summary with actions and Edit, the advisor's recommendation, the autopilot
// card (sleep, replicas, auto-move), endpoint with example calls, instances, the events
// timeline, the server log and a chat playground. Another user's or an unknown id: "not found".
import { autopilotCard } from "../autopilot-panel.js";
import { api } from "../client.js";
import { actionButtons, isTransitional } from "../deployment-actions.js";
import { replicasOf } from "../deployment-change.js";
import { openEditDialog } from "../deployment-edit.js";
import { fill, h, keepingFocus, select, table } from "../dom.js";
import { endpointCell } from "../endpoint.js";
import { usd, when } from "../format.js";
import { ApiError } from "../http.js";
import { logsPanel } from "../logs.js";
import { notifyError } from "../notices.js";
import { playground } from "../playground.js";
import { recommendationCard } from "../recommendation.js";
import { snippets } from "../snippets.js";
import { rolloutWarning, statusBadge } from "../status.js";
import { timeline } from "../timeline.js";

/** @typedef {import("../types.js").Deployment} Deployment */

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
 * @param {Deployment} d
 * @param {(next: Deployment) => void} update  re-render with this deployment
 * @param {(next: Deployment) => void} saved  a change was accepted: re-render and reload
 */
function summary(d, update, saved) {
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

/** @param {Deployment} d */
function instances(d) {
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

/** @param {HTMLElement} root */
function notFound(root) {
  fill(
    root,
    h("h1", {}, "Deployment not found"),
    h(
      "p",
      {},
      "There is no deployment with this id in your account. ",
      h("a", { href: "#/deployments" }, "See your deployments"),
    ),
  );
}

/**
 * The autopilot card, redrawn only when what it shows changed, and never while the owner is
 * typing into its replicas form (a refresh would wipe the numbers) unless `force`.
 * @param {HTMLElement} box
 */
function autopilotBox(box) {
  let shown = "";
  /**
   * @param {Deployment} d
   * @param {(next: Deployment) => void} saved
   * @param {boolean} [force]
   */
  return (d, saved, force = false) => {
    const { idle_timeout_s, wake_count, asleep_hours, saved_usd, replicas, auto_move } = d;
    const key = JSON.stringify([
      idle_timeout_s,
      wake_count,
      asleep_hours,
      saved_usd,
      replicas,
      auto_move,
    ]);
    const editing = box.querySelector("#replicas-form[data-dirty]");
    if (!force && (key === shown || editing)) return;
    shown = key;
    keepingFocus(box, () => fill(box, autopilotCard(d, saved)));
    const form = box.querySelector("#replicas-form");
    if (form) form.addEventListener("input", () => form.setAttribute("data-dirty", ""));
  };
}

/**
 * @param {HTMLElement} root
 * @param {string[]} captures  the deployment's id
 */
export function mount(root, [id]) {
  const top = h("div", {});
  const autopilot = h("div", { id: "autopilot-box" });
  const details = h("div", {});
  fill(
    root,
    h("p", { class: "small" }, h("a", { href: "#/deployments" }, "← All deployments")),
    top,
    autopilot,
    details,
  );
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let stopLogs = () => {};
  let first = true;
  let stopped = false;
  let inFlight = false;
  let again = false;
  const showAutopilot = autopilotBox(autopilot);

  /** @param {Deployment} next  the API accepted a change: show it, then reload at once */
  function saved(next) {
    show(next);
    showAutopilot(next, saved, true);
    load();
  }

  /** @param {Deployment} d */
  function show(d) {
    keepingFocus(top, () =>
      fill(
        top,
        h("h1", {}, d.name),
        h(
          "p",
          {},
          h(
            "a",
            { href: `#/deployments/${d.id}/loadtests`, class: "button secondary" },
            "Load tests and dashboard",
          ),
        ),
        summary(
          d,
          (next) => {
            if (next.desired_state === "deleted" && next.status === "deleting")
              window.location.hash = "#/deployments";
            else show(next);
          },
          saved,
        ),
        recommendationCard(d, load),
      ),
    );
  }

  /** @param {Deployment} d */
  function firstDraw(d) {
    first = false;
    const [logs, stop] = logsPanel(id);
    stopLogs = stop;
    fill(
      details,
      snippets(d),
      h("section", { class: "card" }, h("h2", {}, "Instances"), h("div", { id: "instances" })),
      h("section", { class: "card" }, h("h2", {}, "Events"), h("div", { id: "events-box" })),
      logs,
      playground(d),
    );
  }

  async function fetchAndShow() {
    const [d, events] = /** @type {[Deployment, import("../types.js").DeploymentEvent[]]} */ (
      await Promise.all([
        api.get(`/api/deployments/${id}`),
        api.get(`/api/deployments/${id}/events`),
      ])
    );
    if (stopped) return 0;
    show(d);
    showAutopilot(d, saved);
    if (first) firstDraw(d);
    const endpoint = select(details, "#endpoint-now", HTMLElement);
    keepingFocus(endpoint, () => fill(endpoint, endpointCell(d)));
    fill(select(details, "#instances", HTMLElement), instances(d));
    fill(select(details, "#events-box", HTMLElement), timeline(events));
    return isTransitional(d) ? 2000 : 10000;
  }

  // One load at a time: a reload asked for while one runs follows it, and unmounting ends it.
  async function load() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    clearTimeout(timer);
    /** @type {number | null} */
    let next = 10000;
    try {
      next = await fetchAndShow();
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 404) {
        notFound(root);
        next = null;
      } else notifyError(exc);
    } finally {
      inFlight = false;
    }
    if (stopped || next === null) return;
    if (again) {
      again = false;
      load();
    } else timer = setTimeout(load, next);
  }
  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    stopLogs();
  };
}
