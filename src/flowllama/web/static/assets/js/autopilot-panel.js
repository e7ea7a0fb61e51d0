// The deployment page's autopilot card: idle sleep (timeout, wake count, hours asleep, dollars
// saved), the replicas control (min and max beside the servers running now) and the auto-move
// toggle. Each control sends only its own change (PATCH); a refusal shows at its field.
import { idleMinutes, replicasChange, replicasOf, sendChange } from "./deployment-change.js";
import { fill, h, keepingFocus } from "./dom.js";
import { usd } from "./format.js";
import { fieldError, submitting, values } from "./forms.js";
import { notify, notifyError } from "./notices.js";
import { checkReplicas } from "./validation.js";

/** @typedef {import("./types.js").Deployment} Deployment */
/** @typedef {(next: Deployment) => void} Saved */

/** @param {Deployment} d */
function sleepFacts(d) {
  const minutes = idleMinutes(d);
  /** @type {[string, string, string][]} */
  const facts = [
    ["idle-timeout", "Sleeps when idle", minutes === null ? "never (off)" : `after ${minutes} min`],
    ["wake-count", "Woken", `${d.wake_count ?? 0} times`],
    ["asleep-hours", "Hours asleep", (d.asleep_hours ?? 0).toFixed(1)],
    ["saved", "Saved by sleeping", usd(d.saved_usd ?? 0)],
  ];
  return h(
    "dl",
    { class: "grid2 small", id: "sleep-facts" },
    facts.map(([key, label, value]) =>
      h(
        "div",
        {},
        h("dt", { class: "muted" }, label),
        h("dd", { style: "margin:0", "data-field": key }, value),
      ),
    ),
  );
}

/**
 * @param {string} name
 * @param {string} label
 * @param {number} value
 */
function count(name, label, value) {
  const id = name.replace("_", "-");
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name, type: "number", min: 1, max: 16, value: String(value) }),
  );
}

/**
 * @param {Deployment} d
 * @param {Saved} onSaved
 */
function replicasForm(d, onSaved) {
  const r = replicasOf(d);
  const form = h(
    "form",
    { id: "replicas-form", novalidate: true },
    h(
      "p",
      { id: "replicas-now", style: "margin:0" },
      h("strong", {}, `${r.running} running`),
      ` of ${r.desired} wanted (scales on load between the minimum and the maximum)`,
    ),
    h("div", { class: "form-alert" }),
    h(
      "div",
      { class: "inline-fields" },
      count("replicas_min", "Minimum servers", r.min),
      count("replicas_max", "Maximum servers", r.max),
    ),
    h("p", {}, h("button", { type: "submit", class: "secondary" }, "Apply replicas")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, "Applying…", async () => {
      const data = values(form);
      const problem = checkReplicas(data);
      if (problem) return fieldError(form, ...problem);
      const change = replicasChange(d, data);
      if (!change.replicas) return fieldError(form, null, "Nothing changed");
      const next = await sendChange(d, change);
      notify(`${d.name}: ${change.replicas.min} to ${change.replicas.max} servers`, "ok");
      onSaved(next);
    });
  });
  return form;
}

/**
 * @param {Deployment} d
 * @param {Saved} onSaved
 */
function autoMoveToggle(d, onSaved) {
  const box = h("input", {
    id: "auto-move",
    type: "checkbox",
    checked: Boolean(d.auto_move),
    "data-focus-key": `${d.id}:auto-move`,
  });
  box.addEventListener("change", async () => {
    const wanted = box.checked;
    box.disabled = true;
    try {
      onSaved(await sendChange(d, { auto_move: wanted }));
      notify(`${d.name}: automatic moves ${wanted ? "on" : "off"}`, "ok");
    } catch (exc) {
      box.checked = !wanted;
      notifyError(exc);
    } finally {
      box.disabled = false;
    }
  });
  return h(
    "label",
    { for: "auto-move", style: "font-weight:400" },
    box,
    " Move automatically to a cheaper placement when the advisor finds one",
  );
}

/**
 * The autopilot card of `d`. `onSaved(next)` gets the deployment the API answered a change with.
 * @param {Deployment} d
 * @param {Saved} onSaved
 */
export function autopilotCard(d, onSaved) {
  return h(
    "section",
    { class: "card", id: "autopilot" },
    h("h2", {}, "Autopilot"),
    sleepFacts(d),
    h("h3", {}, "Replicas"),
    replicasForm(d, onSaved),
    autoMoveToggle(d, onSaved),
  );
}

/**
 * The autopilot card, redrawn only when what it shows changed, and never while the owner is
 * typing into its replicas form (a refresh would wipe the numbers) unless `force`.
 * @param {HTMLElement} box
 */
export function autopilotBox(box) {
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
