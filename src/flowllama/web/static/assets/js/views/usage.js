// Usage: this month's spend and budgets (budgets.js), tokens per day stacked per key or per
// deployment, and the requests, tokens and cost of each key and deployment over the range.
import { spendCard } from "../budgets.js";
import { api } from "../client.js";
import { stackedBars } from "../chart.js";
import { fill, h, table } from "../dom.js";
import { count, usd } from "../format.js";
import { notifyError } from "../notices.js";

/** @typedef {import("../types.js").UsageReport} UsageReport */

/** @param {Date} date */
function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

/** @param {number} n */
function lastDays(n) {
  const today = new Date();
  return Array.from({ length: n }, (_, i) =>
    isoDay(
      new Date(
        Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - (n - 1 - i)),
      ),
    ),
  );
}

// The API groups by one dimension at a time, so the per-day split is one request per day.
/**
 * @param {string[]} days
 * @param {string} groupBy
 */
async function perDay(days, groupBy) {
  const reports = /** @type {UsageReport[]} */ (
    await Promise.all(
      days.map((day) => api.get("/api/usage", { from: day, to: day, group_by: groupBy })),
    )
  );
  /** @type {Map<string, string>} */
  const labels = new Map();
  reports.forEach((r) => r.items.forEach((item) => labels.set(item.group, item.label)));
  return [...labels].map(([group, label]) => ({
    label,
    values: reports.map(
      (r) => (r.items.find((item) => item.group === group) || { total_tokens: 0 }).total_tokens,
    ),
  }));
}

/**
 * @param {string} title
 * @param {UsageReport} report
 */
function breakdown(title, report) {
  const rows = report.items.map((g) => ({
    cells: [
      g.label,
      count(g.requests),
      count(g.prompt_tokens),
      count(g.completion_tokens),
      count(g.total_tokens),
      usd(g.cost_usd),
      g.usd_per_million_tokens === null ? "—" : usd(g.usd_per_million_tokens),
    ],
  }));
  const columns = [
    "Name",
    "Requests",
    "Prompt tokens",
    "Completion tokens",
    "Tokens",
    "Cost",
    "$ per 1M tokens",
  ].map((label, i) => ({ label, num: i > 0 }));
  return h(
    "section",
    { class: "card" },
    h("h2", {}, title),
    rows.length ? table(columns, rows) : h("p", { class: "muted" }, "No usage in this range."),
  );
}

/** @param {HTMLElement} root */
export function mount(root) {
  const range = h(
    "select",
    { id: "usage-range" },
    [7, 14, 30].map((n) => h("option", { value: n, selected: n === 14 }, `Last ${n} days`)),
  );
  const split = h(
    "select",
    { id: "usage-split" },
    h("option", { value: "key" }, "per API key"),
    h("option", { value: "deployment" }, "per deployment"),
  );
  const body = h("div", { "aria-busy": "true" }, h("p", { class: "muted" }, "Loading usage…"));
  fill(
    root,
    h("h1", {}, "Usage"),
    spendCard(),
    h(
      "div",
      { class: "row" },
      h("label", { for: "usage-range" }, "Range"),
      range,
      h("label", { for: "usage-split" }, "Tokens per day"),
      split,
    ),
    body,
  );

  async function load() {
    body.setAttribute("aria-busy", "true");
    const days = lastDays(Number(range.value));
    const span = { from: days[0], to: days[days.length - 1] };
    try {
      const [series, byKey, byDeployment] = await Promise.all([
        perDay(days, split.value),
        /** @type {Promise<UsageReport>} */ (api.get("/api/usage", { ...span, group_by: "key" })),
        /** @type {Promise<UsageReport>} */ (
          api.get("/api/usage", { ...span, group_by: "deployment" })
        ),
      ]);
      const total = byKey.total;
      fill(
        body,
        h(
          "section",
          { class: "card" },
          h(
            "p",
            {},
            h("strong", { id: "usage-total" }, `${count(total.total_tokens)} tokens`),
            ` in ${count(total.requests)} requests, `,
            h("strong", {}, usd(total.cost_usd)),
            " attributed cost.",
          ),
          stackedBars(
            days,
            series,
            `Tokens per day ${split.selectedOptions[0]?.textContent ?? ""}, ${span.from} to ${span.to} (UTC)`,
            Math.min(720, Math.max(300, root.clientWidth - 48)),
          ),
        ),
        breakdown("By API key", byKey),
        breakdown("By deployment", byDeployment),
      );
      body.removeAttribute("aria-busy");
    } catch (exc) {
      notifyError(exc);
    }
  }
  range.addEventListener("change", load);
  split.addEventListener("change", load);
  load();
}
