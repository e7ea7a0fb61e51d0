// A deployment's load tests: run one now (bounded by the server's limits), the schedule (off
// until turned on), the recent runs with live status, and the dashboard (trends, regression
// flags, latest run, raw files) rendered by the server. Raw files are fetched with the
// session's token, so only the owner gets them.
import { api } from "../client.js";
import { fill, h, table } from "../dom.js";
import { clearErrors, fieldError } from "../forms.js";
import { apiUrl, errorOf } from "../http.js";
import { notifyError } from "../notices.js";
import { safeMarkup } from "../safe-markup.js";
import { currentToken } from "../session.js";
import { when } from "../format.js";

const ACTIVE = new Set(["queued", "running"]);

async function download(link) {
  const token = await currentToken();
  const response = await fetch(apiUrl(link.getAttribute("href")), { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw await errorOf(response);
  if ((response.headers.get("content-type") || "").startsWith("application/json") && link.dataset.loadtestFile !== "summary.json") {
    window.open((await response.json()).url, "_blank", "noopener"); // a presigned URL (S3 store)
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const a = h("a", { href: url, download: link.dataset.loadtestFile });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function runsTable(runs) {
  if (!runs.length) return h("p", { class: "muted" }, "No load test yet.");
  return table(["Started", "Trigger", "Status", "Duration", "Users", "Result"].map((label) => ({ label })),
    runs.map((r) => ({ cells: [when(r.started_at || r.created_at), r.trigger, r.status, `${r.duration_s} s`, r.users,
      r.error || (r.run_id ? r.run_id : "—")] })));
}

function numberField(name, label, value, min) {
  return h("div", {}, h("label", { for: `lt-${name}` }, label),
    h("input", { id: `lt-${name}`, name, type: "number", min, value, required: true }));
}

function runForm(id, onStarted) {
  const form = h("form", { class: "card", "aria-labelledby": "lt-run-title" },
    h("h2", { id: "lt-run-title" }, "Run a load test now"),
    h("p", { class: "small muted" }, "It sends real requests through your gateway with a short-lived key (the tokens count in your usage)."),
    h("div", { class: "grid2" }, numberField("duration_s", "Duration (seconds)", 60, 1), numberField("users", "Simulated users", 2, 1)),
    h("div", { class: "form-alert" }),
    h("p", {}, h("button", { type: "submit" }, "Start")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const data = new FormData(form);
    try {
      await api.post(`/api/deployments/${id}/loadtests`, { duration_s: Number(data.get("duration_s")), users: Number(data.get("users")) });
      onStarted();
    } catch (exc) {
      fieldError(form, exc.field, exc.message);
    }
  });
  return form;
}

function scheduleForm(id, schedule) {
  const form = h("form", { class: "card", "aria-labelledby": "lt-schedule-title" },
    h("h2", { id: "lt-schedule-title" }, "Schedule"),
    h("label", {}, h("input", { type: "checkbox", name: "enabled", checked: schedule.enabled }), " Run a load test on a schedule"),
    h("div", { class: "grid2" }, numberField("interval_s", "Every (seconds)", schedule.interval_s, 60),
      numberField("sduration_s", "Duration (seconds)", schedule.duration_s, 1), numberField("susers", "Simulated users", schedule.users, 1)),
    h("p", { class: "small muted" }, schedule.next_run_at ? `Next run: ${when(schedule.next_run_at)}` : "Off."),
    h("div", { class: "form-alert" }),
    h("p", {}, h("button", { type: "submit" }, "Save schedule")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const data = new FormData(form);
    try {
      const saved = await api.put(`/api/deployments/${id}/loadtest-schedule`, { enabled: data.get("enabled") === "on",
        interval_s: Number(data.get("interval_s")), duration_s: Number(data.get("sduration_s")), users: Number(data.get("susers")) });
      form.replaceWith(scheduleForm(id, saved));
    } catch (exc) {
      fieldError(form, exc.field === "duration_s" ? "sduration_s" : exc.field === "users" ? "susers" : exc.field, exc.message);
    }
  });
  return form;
}

export function mount(root, [id]) {
  const runsBox = h("div", { id: "lt-runs" });
  const board = h("div", { id: "lt-dashboard", "aria-live": "polite" });
  const controls = h("div", {});
  fill(root, h("p", { class: "small" }, h("a", { href: `#/deployments/${id}` }, "← Deployment")),
    h("h1", {}, "Load tests"), controls, h("section", { class: "card" }, h("h2", {}, "Recent runs"), runsBox), board);
  board.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-loadtest-file]");
    if (!link) return;
    event.preventDefault();
    download(link).catch(notifyError);
  });
  let timer = null;
  let shown = null;

  async function load() {
    try {
      const runs = await api.get(`/api/deployments/${id}/loadtests`, { limit: 20 });
      fill(runsBox, runsTable(runs.items));
      const latest = runs.items.map((r) => r.id + r.status).join();
      if (latest !== shown) {
        shown = latest;
        const dashboard = await api.get(`/api/deployments/${id}/loadtests/dashboard`);
        fill(board, ...safeMarkup(dashboard.html));
      }
      timer = setTimeout(load, runs.items.some((r) => ACTIVE.has(r.status)) ? 3000 : 30000);
    } catch (exc) {
      if (exc.status === 404) {
        fill(root, h("h1", {}, "Deployment not found"), h("p", {}, h("a", { href: "#/deployments" }, "See your deployments")));
        return;
      }
      notifyError(exc);
      timer = setTimeout(load, 30000);
    }
  }

  api.get(`/api/deployments/${id}/loadtest-schedule`).then((schedule) => {
    fill(controls, h("div", { class: "grid2" }, runForm(id, () => { clearTimeout(timer); load(); }), scheduleForm(id, schedule)));
  }).catch(notifyError);
  load();
  return () => clearTimeout(timer);
}
