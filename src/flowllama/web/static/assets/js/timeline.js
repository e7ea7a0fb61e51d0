// A deployment's events, newest first: each status move with its time and reason, and the
// autopilot's events (sleeping, woken, changed, scaled, replaced, spot reclaimed, a cheaper
// placement found, moved, a failed change) tagged so they stand out, including those that keep
// the status as it was.
import { h } from "./dom.js";
import { when } from "./format.js";

/** @typedef {import("./types.js").DeploymentEvent} DeploymentEvent */

/** @type {Record<string, string>} */
const LABELS = {
  sleeping: "Sleeping",
  woken: "Woken",
  changed: "Changed",
  recommended: "Cheaper placement",
  scaled: "Scaled",
  replaced: "Replaced",
  "spot-reclaimed": "Spot reclaimed",
  moved: "Moved",
  "rollout-failed": "Change failed",
};

// The agent's and the autopilot's reasons, first match wins: the owner's own change names its
// replicas, and a reclaim's reason also says the server is replaced.
/** @type {[RegExp, string][]} */
const REASONS = [
  [/^changed by/i, "changed"],
  [/reclaim|interrupt|preempt/i, "spot-reclaimed"],
  [/\bwoken\b|\bwak(e|ing)\b/i, "woken"],
  [/roll.?out.*fail|change.*fail|fail.*(generation|change)/i, "rollout-failed"],
  [/cheaper placement found/i, "recommended"],
  [/\bscal(ed|ing)\b|\breplicas?\b/i, "scaled"],
  [/\bmov(ed|ing)\b/i, "moved"],
  [/replac|switch/i, "replaced"],
  [/going to sleep|\basleep:|\bidle\b/i, "sleeping"],
];

/**
 * Which autopilot event this is (a key of LABELS), or null for a plain status move: the
 * event's own `data.kind` when the agent gave one, else its status and reason.
 * @param {DeploymentEvent} e
 */
export function eventKind(e) {
  const kind = e.data && typeof e.data.kind === "string" ? e.data.kind.replace(/_/g, "-") : null;
  if (kind && kind in LABELS) return kind;
  if (e.to_status === "sleeping") return "sleeping";
  const found = REASONS.find(([pattern]) => pattern.test(e.reason || ""));
  return found ? found[1] : null;
}

/** @param {DeploymentEvent} e */
function entry(e) {
  const kind = eventKind(e);
  // A scale or a switch-over keeps the status: say the status once, not "running → running".
  const move =
    e.from_status === e.to_status ? e.to_status : `${e.from_status || "new"} → ${e.to_status}`;
  return h(
    "li",
    { "data-kind": kind },
    h("strong", {}, move),
    kind ? h("span", { class: "tag" }, LABELS[kind]) : null,
    " ",
    h("span", { class: "small muted" }, when(e.at)),
    h("div", { class: "small" }, e.reason),
  );
}

/** @param {DeploymentEvent[]} events  oldest first, as the API lists them */
export function timeline(events) {
  if (!events.length) return h("p", { class: "muted" }, "No events yet.");
  return h("ol", { class: "timeline", id: "events" }, [...events].reverse().map(entry));
}
