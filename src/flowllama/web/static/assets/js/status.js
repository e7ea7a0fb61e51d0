// A deployment's status as a coloured dot, its word, and the agent's message under it; and the
// warning of a change the agent could not roll out (the old servers keep serving).
import { h } from "./dom.js";

/**
 * @param {string} status
 * @param {string | null | undefined} message
 */
export function statusBadge(status, message) {
  return h(
    "span",
    {},
    h("span", { class: `status ${status}`, "data-status": status }, status),
    message ? h("span", { class: "status-message" }, message) : null,
  );
}

/**
 * The deployment's failed rollout as a warning, or null when its last change went through.
 * @param {{rollout_error?: string | null}} deployment
 */
export function rolloutWarning(deployment) {
  if (!deployment.rollout_error) return null;
  return h(
    "p",
    { class: "warning rollout-error", role: "note" },
    "The last change could not be applied; the previous servers keep serving: ",
    deployment.rollout_error,
  );
}
