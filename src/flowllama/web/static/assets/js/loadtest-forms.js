// The load-test view's two forms: run a load test now (bounded by the server's limits) and the
// deployment's schedule (off until turned on). Refusals land next to the field the API names.
import { api } from "./client.js";
import { h } from "./dom.js";
import { clearErrors, fieldError, showError } from "./forms.js";
import { ApiError } from "./http.js";
import { when } from "./format.js";

/** @typedef {import("./types.js").LoadtestSchedule} LoadtestSchedule */

/**
 * @param {string} name
 * @param {string} label
 * @param {number} value
 * @param {number} min
 */
function numberField(name, label, value, min) {
  return h(
    "div",
    {},
    h("label", { for: `lt-${name}` }, label),
    h("input", { id: `lt-${name}`, name, type: "number", min, value, required: true }),
  );
}

/**
 * "Run a load test now" for deployment `id`; `onStarted` runs once the API accepted one.
 * @param {string} id
 * @param {() => void} onStarted
 */
export function runForm(id, onStarted) {
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "lt-run-title" },
    h("h2", { id: "lt-run-title" }, "Run a load test now"),
    h(
      "p",
      { class: "small muted" },
      "It sends real requests through your gateway with a short-lived key (the tokens count in your usage).",
    ),
    h(
      "div",
      { class: "grid2" },
      numberField("duration_s", "Duration (seconds)", 60, 1),
      numberField("users", "Simulated users", 2, 1),
    ),
    h("div", { class: "form-alert" }),
    h("p", {}, h("button", { type: "submit" }, "Start")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const data = new FormData(form);
    try {
      await api.post(`/api/deployments/${id}/loadtests`, {
        duration_s: Number(data.get("duration_s")),
        users: Number(data.get("users")),
      });
      onStarted();
    } catch (exc) {
      showError(form, exc);
    }
  });
  return form;
}

// The schedule's duration and users fields are renamed so they do not clash with the run form's.
/** @param {string | null} field  the API's field name */
function scheduleField(field) {
  return field === "duration_s" ? "sduration_s" : field === "users" ? "susers" : field;
}

/**
 * The schedule of deployment `id` as it is now; saving replaces the form with the saved one.
 * @param {string} id
 * @param {LoadtestSchedule} schedule
 * @returns {HTMLFormElement}
 */
export function scheduleForm(id, schedule) {
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "lt-schedule-title" },
    h("h2", { id: "lt-schedule-title" }, "Schedule"),
    h(
      "label",
      {},
      h("input", { type: "checkbox", name: "enabled", checked: schedule.enabled }),
      " Run a load test on a schedule",
    ),
    h(
      "div",
      { class: "grid2" },
      numberField("interval_s", "Every (seconds)", schedule.interval_s, 60),
      numberField("sduration_s", "Duration (seconds)", schedule.duration_s, 1),
      numberField("susers", "Simulated users", schedule.users, 1),
    ),
    h(
      "p",
      { class: "small muted" },
      schedule.next_run_at ? `Next run: ${when(schedule.next_run_at)}` : "Off.",
    ),
    h("div", { class: "form-alert" }),
    h("p", {}, h("button", { type: "submit" }, "Save schedule")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const data = new FormData(form);
    try {
      const saved = /** @type {LoadtestSchedule} */ (
        await api.put(`/api/deployments/${id}/loadtest-schedule`, {
          enabled: data.get("enabled") === "on",
          interval_s: Number(data.get("interval_s")),
          duration_s: Number(data.get("sduration_s")),
          users: Number(data.get("susers")),
        })
      );
      form.replaceWith(scheduleForm(id, saved));
    } catch (exc) {
      if (exc instanceof ApiError) fieldError(form, scheduleField(exc.field), exc.message);
      else showError(form, exc);
    }
  });
  return form;
}
