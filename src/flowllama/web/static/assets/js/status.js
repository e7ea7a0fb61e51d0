// A deployment's status as a coloured dot, its word, and the agent's message under it.
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
