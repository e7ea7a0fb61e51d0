// The notice every page of the app shows while a budget has an alert this month.
import { api } from "./client.js";
import { h } from "./dom.js";

/** @typedef {import("./types.js").Budget} Budget */

const DONE = /** @type {Record<string, string>} */ ({
  stopped: "its deployments were stopped",
  blocked: "the key is refused until next month or a higher budget",
  warned: "",
});

/** @param {Budget} budget */
function sentence(budget) {
  const top = Math.max(...budget.alerts.map((a) => a.threshold));
  const last = budget.alerts.find((a) => a.threshold === top);
  const done = (last && DONE[last.action_taken || ""]) || "";
  const what = budget.scope === "user" ? "Your monthly budget" : `The budget of ${budget.label}`;
  return `${what} reached ${top} % of $${budget.monthly_usd.toFixed(2)}${done ? `: ${done}` : ""}.`;
}

/**
 * Show (or clear) the notice from `budgets`, above the page's main content.
 * @param {Budget[]} budgets
 */
export function showBudgetNotice(budgets) {
  document.getElementById("budget-notice")?.remove();
  const alerted = budgets.filter((b) => b.alerts.length > 0);
  if (!alerted.length) return;
  const main = document.getElementById("main");
  if (!main) return;
  main.before(
    h(
      "div",
      { id: "budget-notice", class: "budget-notice", role: "alert" },
      alerted.map((b) => h("p", {}, sentence(b))),
      h("p", {}, h("a", { href: "#/usage" }, "See spend and budgets")),
    ),
  );
}

/** Load the budgets and show the notice; a failure only leaves it out. */
export async function refreshBudgetNotice() {
  try {
    showBudgetNotice(/** @type {Budget[]} */ (await api.get("/api/budgets")));
  } catch {
    // the notice is a convenience: the usage page reports its own errors
  }
}
