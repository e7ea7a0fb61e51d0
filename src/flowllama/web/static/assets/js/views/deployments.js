// Deployments dashboard: every deployment of the user with its status, where it runs, its
// endpoint and cost, and actions. Refreshed every 10 s (every 2 s while one is changing).
import { api } from "../client.js";
import { fill, h, keepingFocus, table } from "../dom.js";
import { actionButtons, isTransitional } from "../deployment-actions.js";
import { endpointCell } from "../endpoint.js";
import { usd } from "../format.js";
import { notifyError } from "../notices.js";
import { rolloutWarning, statusBadge } from "../status.js";

/** @typedef {import("../types.js").Deployment} Deployment */

const COLUMNS = [
  "Name",
  "Status",
  "Model",
  "Cloud",
  "Region",
  "Instance type",
  "Endpoint",
  "$/h",
  "Cost so far",
  "Actions",
].map((label) => ({ label, num: label.startsWith("$") || label.startsWith("Cost") }));

/**
 * @param {Deployment} d
 * @param {(next: Deployment) => void} update
 */
function cells(d, update) {
  return [
    h("a", { href: `#/deployments/${d.id}` }, d.name),
    [statusBadge(d.status, d.status_message), rolloutWarning(d)],
    d.model,
    d.cloud,
    d.region || "—",
    d.instance_type || "—",
    endpointCell(d),
    usd(d.price_per_hour),
    usd(d.cost_so_far_usd),
    actionButtons(d, update),
  ];
}

/** @param {HTMLElement} root */
export function mount(root) {
  const body = h(
    "div",
    { "aria-busy": "true" },
    h("p", { class: "muted" }, "Loading your deployments…"),
  );
  fill(
    root,
    h(
      "div",
      { class: "row" },
      h("h1", { style: "margin-right:auto" }, "Deployments"),
      h("a", { class: "button", href: "#/new" }, "New deployment"),
    ),
    body,
  );
  /** @type {Deployment[]} */
  let items = [];
  /** @type {string | null} */
  let shown = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let stopped = false;

  function render() {
    keepingFocus(body, draw);
    shown = JSON.stringify(items);
  }

  function draw() {
    body.removeAttribute("aria-busy");
    if (!items.length) {
      fill(
        body,
        h(
          "div",
          { class: "card" },
          h("p", {}, "No deployments yet."),
          h("a", { class: "button", href: "#/new" }, "Deploy your first model"),
        ),
      );
      return;
    }
    /** @type {(index: number) => (next: Deployment) => void} */
    const update = (index) => (next) => {
      items[index] = next;
      render();
    };
    fill(
      body,
      table(
        COLUMNS,
        items.map((d, i) => ({
          attrs: { "data-deployment": d.name, "data-id": d.id },
          cells: cells(d, update(i)),
        })),
        { id: "deployments-table" },
      ),
    );
  }

  async function load() {
    try {
      const page = /** @type {{items: Deployment[]}} */ (
        await api.get("/api/deployments", { limit: 200 })
      );
      items = page.items;
      if (JSON.stringify(items) !== shown) render();
    } catch (exc) {
      notifyError(exc);
    }
    if (!stopped) timer = setTimeout(load, items.some(isTransitional) ? 2000 : 10000);
  }

  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
