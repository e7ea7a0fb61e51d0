// Deployment detail: summary and actions, endpoint with example calls, instances, the events
// timeline, the server log and a chat playground. Another user's or an unknown id: "not found".
import { api } from "../client.js";
import { actionButtons, isTransitional } from "../deployment-actions.js";
import { fill, h, keepingFocus, select, table } from "../dom.js";
import { endpointCell } from "../endpoint.js";
import { usd, when } from "../format.js";
import { ApiError } from "../http.js";
import { logsPanel } from "../logs.js";
import { notifyError } from "../notices.js";
import { playground } from "../playground.js";
import { snippets } from "../snippets.js";
import { statusBadge } from "../status.js";

/** @typedef {import("../types.js").Deployment} Deployment */

/**
 * @param {Deployment} d
 * @param {(next: Deployment) => void} update
 */
function summary(d, update) {
  /** @type {[string, string][]} */
  const facts = [
    ["Model", d.model],
    ["Runtime", d.runtime],
    ["Context", d.context_size.toLocaleString("en-US")],
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
      h("span", { style: "margin-left:auto" }, actionButtons(d, update)),
    ),
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
        h("code", {}, i.id.slice(0, 12)),
        i.status + (i.last_error ? ` (${i.last_error})` : ""),
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

/** @param {import("../types.js").DeploymentEvent[]} events */
function timeline(events) {
  if (!events.length) return h("p", { class: "muted" }, "No events yet.");
  return h(
    "ol",
    { class: "timeline", id: "events" },
    [...events]
      .reverse()
      .map((e) =>
        h(
          "li",
          {},
          h("strong", {}, `${e.from_status || "new"} → ${e.to_status}`),
          " ",
          h("span", { class: "small muted" }, when(e.at)),
          h("div", { class: "small" }, e.reason),
        ),
      ),
  );
}

/**
 * @param {HTMLElement} root
 * @param {string[]} captures  the deployment's id
 */
export function mount(root, [id]) {
  const top = h("div", {});
  const details = h("div", {});
  fill(
    root,
    h("p", { class: "small" }, h("a", { href: "#/deployments" }, "← All deployments")),
    top,
    details,
  );
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let stopLogs = () => {};
  let first = true;

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
        summary(d, (next) => {
          if (next.desired_state === "deleted" && next.status === "deleting")
            window.location.hash = "#/deployments";
          else show(next);
        }),
      ),
    );
  }

  async function load() {
    try {
      const [d, events] = /** @type {[Deployment, import("../types.js").DeploymentEvent[]]} */ (
        await Promise.all([
          api.get(`/api/deployments/${id}`),
          api.get(`/api/deployments/${id}/events`),
        ])
      );
      show(d);
      if (first) {
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
      const endpoint = select(details, "#endpoint-now", HTMLElement);
      keepingFocus(endpoint, () => fill(endpoint, endpointCell(d)));
      fill(select(details, "#instances", HTMLElement), instances(d));
      fill(select(details, "#events-box", HTMLElement), timeline(events));
      timer = setTimeout(load, isTransitional(d) ? 2000 : 10000);
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 404) {
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
        return;
      }
      notifyError(exc);
      timer = setTimeout(load, 10000);
    }
  }
  load();
  return () => {
    clearTimeout(timer);
    stopLogs();
  };
}
