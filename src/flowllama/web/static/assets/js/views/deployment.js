// Deployment detail: summary with actions and Edit, the advisor's recommendation, the autopilot
// card (sleep, replicas, auto-move), endpoint with example calls, instances, the events
// timeline, the server log and a chat playground. Another user's or an unknown id: "not found".
import { autopilotBox } from "../autopilot-panel.js";
import { api } from "../client.js";
import { isTransitional } from "../deployment-actions.js";
import { instances, summary } from "../deployment-summary.js";
import { fill, h, keepingFocus, select } from "../dom.js";
import { endpointCell } from "../endpoint.js";
import { ApiError } from "../http.js";
import { logsPanel } from "../logs.js";
import { notifyError } from "../notices.js";
import { playground } from "../playground.js";
import { recommendationCard } from "../recommendation.js";
import { snippets } from "../snippets.js";
import { timeline } from "../timeline.js";

/** @typedef {import("../types.js").Deployment} Deployment */

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
