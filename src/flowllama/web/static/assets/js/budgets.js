// The usage page's spend part: this month's spend and projection, each budget with a bar marked
// at 50/80/100 % and its alerts, and the form that sets or removes the user and key budgets.
import { showBudgetNotice } from "./budget-notice.js";
import { api } from "./client.js";
import { fill, h } from "./dom.js";
import { usd, when } from "./format.js";
import { fieldError, submitting, values } from "./forms.js";
import { notify, notifyError } from "./notices.js";

/** @typedef {import("./types.js").Budget} Budget */
/** @typedef {import("./types.js").SpendReport} SpendReport */
/** @typedef {import("./types.js").ApiKey} ApiKey */

const MARKS = [50, 80, 100];

/** @param {Budget} budget */
function path(budget) {
  return budget.scope === "user" ? "/api/budgets/user" : `/api/budgets/keys/${budget.api_key_id}`;
}

/** @param {Budget} budget */
function bar(budget) {
  const shown = Math.min(100, budget.percent);
  const level = budget.percent >= 100 ? "over" : budget.percent >= 80 ? "high" : "";
  const fillBar = h("div", { class: `budget-fill ${level}` });
  fillBar.style.width = `${shown}%`;
  return h(
    "div",
    {
      class: "budget-bar",
      role: "progressbar",
      "aria-valuemin": 0,
      "aria-valuemax": 100,
      "aria-valuenow": Math.round(shown),
      "aria-label": `${budget.label}: ${budget.percent.toFixed(1)} % of the budget`,
    },
    fillBar,
    MARKS.map((mark) => {
      const tick = h("span", { class: "budget-mark", title: `${mark} %` });
      tick.style.left = `${mark}%`;
      return tick;
    }),
  );
}

/**
 * @param {Budget} budget
 * @param {() => void} changed
 */
function budgetItem(budget, changed) {
  const remove = async () => {
    try {
      await api.del(path(budget));
      notify(`Budget of ${budget.label} removed`, "ok");
      changed();
    } catch (exc) {
      notifyError(exc);
    }
  };
  return h(
    "li",
    { class: "budget", dataset: { scope: budget.scope, key: budget.api_key_id || "" } },
    h(
      "p",
      {},
      h("strong", {}, budget.label),
      ` — ${usd(budget.spent_usd)} of ${usd(budget.monthly_usd)} (${budget.percent.toFixed(1)} %); `,
      budget.action === "stop" ? "stops at 100 %" : "warns only",
      " ",
      h(
        "button",
        { type: "button", class: "link", onclick: remove, "aria-label": `Remove ${budget.label}` },
        "Remove",
      ),
    ),
    bar(budget),
    budget.alerts.length
      ? h(
          "ul",
          { class: "budget-alerts" },
          budget.alerts.map((a) =>
            h(
              "li",
              {},
              `${a.threshold} % reached ${when(a.at)}`,
              a.action_taken ? ` (${a.action_taken})` : "",
            ),
          ),
        )
      : null,
  );
}

/**
 * @param {ApiKey[]} keys
 * @param {() => void} changed
 */
function budgetForm(keys, changed) {
  const form = h(
    "form",
    { id: "budget-form", novalidate: true },
    h("div", { class: "form-alert" }),
    h(
      "div",
      { class: "row" },
      h("label", { for: "budget-scope" }, "Budget for"),
      h(
        "select",
        { id: "budget-scope", name: "scope" },
        h("option", { value: "" }, "all my deployments"),
        keys.map((k) => h("option", { value: k.id }, `key ${k.name}`)),
      ),
      h("label", { for: "budget-usd" }, "$ per month"),
      h("input", {
        id: "budget-usd",
        name: "monthly_usd",
        type: "number",
        min: "0.01",
        step: "0.01",
        required: true,
      }),
      h("label", { for: "budget-action" }, "At 100 %"),
      h(
        "select",
        { id: "budget-action", name: "action" },
        h("option", { value: "warn" }, "only warn"),
        h("option", { value: "stop" }, "stop (deployments, or the key)"),
      ),
      h("button", { type: "submit" }, "Save budget"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = values(form);
    submitting(form, "Saving…", async () => {
      const amount = Number(data.monthly_usd);
      if (!data.monthly_usd || !(amount > 0)) {
        fieldError(form, "monthly_usd", "Enter a monthly amount above $0");
        return;
      }
      const target = data.scope ? `/api/budgets/keys/${data.scope}` : "/api/budgets/user";
      await api.put(target, { monthly_usd: amount, action: data.action });
      notify("Budget saved", "ok");
      changed();
    });
  });
  return form;
}

/**
 * The spend card: loads itself, and again after every change.
 * @returns {HTMLElement}
 */
export function spendCard() {
  const card = h(
    "section",
    { class: "card", id: "spend", "aria-busy": "true" },
    h("h2", {}, "Spend this month"),
    h("p", { class: "muted" }, "Loading spend…"),
  );
  async function load() {
    card.setAttribute("aria-busy", "true");
    try {
      const [report, keys] = await Promise.all([
        /** @type {Promise<SpendReport>} */ (api.get("/api/usage/spend")),
        /** @type {Promise<ApiKey[]>} */ (api.get("/api/keys")),
      ]);
      showBudgetNotice(report.budgets);
      fill(
        card,
        h("h2", {}, `Spend this month (${report.month}, UTC)`),
        h(
          "p",
          {},
          h("strong", { id: "spend-total" }, usd(report.spend_usd)),
          ` spent so far (servers ${usd(report.server_usd)}, token charges ${usd(report.tokens_usd)}); `,
          "projected for the month: ",
          h("strong", { id: "spend-projection" }, usd(report.projection_usd)),
          ".",
        ),
        report.budgets.length
          ? h(
              "ul",
              { class: "budgets" },
              report.budgets.map((b) => budgetItem(b, load)),
            )
          : h("p", { class: "muted" }, "No budget set."),
        budgetForm(keys, load),
      );
      card.removeAttribute("aria-busy");
    } catch (exc) {
      notifyError(exc);
    }
  }
  load();
  return card;
}
