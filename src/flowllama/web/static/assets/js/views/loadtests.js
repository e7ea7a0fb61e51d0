// A deployment's load tests: run one now and the schedule (loadtest-forms.js), the recent runs
// with live status, and the dashboard (trends, regression flags, latest run, raw files) rendered
// by the server. Raw files are fetched with the session's token, so only the owner gets them.
import { api } from "../client.js";
import { fill, h, table } from "../dom.js";
import { ApiError, apiUrl, errorOf } from "../http.js";
import { runForm, scheduleForm } from "../loadtest-forms.js";
import { notifyError } from "../notices.js";
import { safeMarkup } from "../safe-markup.js";
import { currentToken } from "../session.js";
import { when } from "../format.js";

/** @typedef {import("../types.js").LoadtestRun} LoadtestRun */

/** @type {Set<LoadtestRun["status"]>} */
const ACTIVE = new Set(["queued", "running"]);

/**
 * Download the raw file `link` points at (a link of the dashboard, checked by safe-markup.js).
 * @param {HTMLAnchorElement} link
 */
async function download(link) {
  const href = link.getAttribute("href");
  if (!href) throw new Error("This file link has no address");
  const token = await currentToken();
  const response = await fetch(apiUrl(href), { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw await errorOf(response);
  if (
    (response.headers.get("content-type") || "").startsWith("application/json") &&
    link.dataset.loadtestFile !== "summary.json"
  ) {
    const file = /** @type {import("../types.js").PresignedFile} */ (await response.json());
    window.open(file.url, "_blank", "noopener"); // a presigned URL (S3 store)
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const a = h("a", { href: url, download: link.dataset.loadtestFile });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** @param {LoadtestRun[]} runs */
function runsTable(runs) {
  if (!runs.length) return h("p", { class: "muted" }, "No load test yet.");
  return table(
    ["Started", "Trigger", "Status", "Duration", "Users", "Result"].map((label) => ({ label })),
    runs.map((r) => ({
      cells: [
        when(r.started_at || r.created_at),
        r.trigger,
        r.status,
        `${r.duration_s} s`,
        r.users,
        r.error || (r.run_id ? r.run_id : "—"),
      ],
    })),
  );
}

/**
 * @param {HTMLElement} root
 * @param {string[]} captures  the deployment's id
 */
export function mount(root, [id]) {
  const runsBox = h("div", { id: "lt-runs" });
  const board = h("div", { id: "lt-dashboard", "aria-live": "polite" });
  const controls = h("div", {});
  fill(
    root,
    h("p", { class: "small" }, h("a", { href: `#/deployments/${id}` }, "← Deployment")),
    h("h1", {}, "Load tests"),
    controls,
    h("section", { class: "card" }, h("h2", {}, "Recent runs"), runsBox),
    board,
  );
  board.addEventListener("click", (event) => {
    const target = event.target;
    const link = target instanceof Element ? target.closest("a[data-loadtest-file]") : null;
    if (!(link instanceof HTMLAnchorElement)) return;
    event.preventDefault();
    download(link).catch(notifyError);
  });
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @type {string | null} */
  let shown = null;

  async function load() {
    try {
      const runs = /** @type {import("../types.js").LoadtestRunPage} */ (
        await api.get(`/api/deployments/${id}/loadtests`, { limit: 20 })
      );
      fill(runsBox, runsTable(runs.items));
      const latest = runs.items.map((r) => r.id + r.status).join();
      if (latest !== shown) {
        shown = latest;
        const dashboard = /** @type {import("../types.js").LoadtestDashboard} */ (
          await api.get(`/api/deployments/${id}/loadtests/dashboard`)
        );
        fill(board, ...safeMarkup(dashboard.html));
      }
      timer = setTimeout(load, runs.items.some((r) => ACTIVE.has(r.status)) ? 3000 : 30000);
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 404) {
        fill(
          root,
          h("h1", {}, "Deployment not found"),
          h("p", {}, h("a", { href: "#/deployments" }, "See your deployments")),
        );
        return;
      }
      notifyError(exc);
      timer = setTimeout(load, 30000);
    }
  }

  api
    .get(`/api/deployments/${id}/loadtest-schedule`)
    .then((schedule) => {
      const current = /** @type {import("../types.js").LoadtestSchedule} */ (schedule);
      fill(
        controls,
        h(
          "div",
          { class: "grid2" },
          runForm(id, () => {
            clearTimeout(timer);
            load();
          }),
          scheduleForm(id, current),
        ),
      );
    })
    .catch(notifyError);
  load();
  return () => clearTimeout(timer);
}
