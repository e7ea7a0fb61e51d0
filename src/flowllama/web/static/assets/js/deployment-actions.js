// Stop / start (wake, when asleep) / restart / delete of a deployment, applied optimistically:
// the row changes at once and is put back, with an error notice, when the API refuses.
import { api } from "./client.js";
import { confirmDialog } from "./dialog.js";
import { h } from "./dom.js";
import { notify, notifyError } from "./notices.js";

/** @typedef {import("./types.js").Deployment} Deployment */
/** @typedef {"stop" | "start" | "restart" | "delete"} Action */

/** @type {Record<Action, {status: string, desired_state: string}>} */
const OPTIMISTIC = {
  stop: { status: "stopping", desired_state: "stopped" },
  start: { status: "pending", desired_state: "running" },
  restart: { status: "stopping", desired_state: "running" },
  delete: { status: "deleting", desired_state: "deleted" },
};
const TRANSITIONAL = new Set([
  "pending",
  "provisioning",
  "starting",
  "stopping",
  "deleting",
  "healing",
]);

/** @param {Deployment} deployment  asleep, or heading there: start wakes it */
export function isAsleep(deployment) {
  return deployment.status === "sleeping" || deployment.desired_state === "sleeping";
}

/** @param {Deployment} deployment */
export function isTransitional(deployment) {
  return TRANSITIONAL.has(deployment.status);
}

/**
 * @param {Deployment} d
 * @returns {Action[]}
 */
function allowed(d) {
  if (d.desired_state === "deleted") return [];
  /** @type {Action[]} */
  const actions = [];
  if (d.desired_state === "stopped" || d.status === "failed") actions.push("start");
  else if (isAsleep(d)) actions.push("start", "stop");
  else actions.push("stop");
  if (d.status === "running" || d.status === "unhealthy") actions.push("restart");
  actions.push("delete");
  return actions;
}

/**
 * @param {Deployment} deployment
 * @param {Action} action
 */
async function confirmed(deployment, action) {
  if (action !== "delete") return true;
  return confirmDialog({
    title: `Delete ${deployment.name}?`,
    message: "Its server is shut down and its endpoint stops answering. This cannot be undone.",
    confirmLabel: "Delete",
    typeToConfirm: deployment.name,
  });
}

/**
 * @param {Deployment} deployment
 * @param {Action} action
 */
function request(deployment, action) {
  if (action === "delete") return api.del(`/api/deployments/${deployment.id}`);
  return api.post(`/api/deployments/${deployment.id}/${action}`);
}

/**
 * @param {Deployment} deployment
 * @param {Action} action
 */
function label(deployment, action) {
  if (action === "start" && isAsleep(deployment)) return "Wake";
  return action[0].toUpperCase() + action.slice(1);
}

/**
 * Buttons for what can be done with `deployment` now. `update(next)` re-renders the row with a
 * deployment object: first the optimistic one, then the API's answer, or the original again.
 * @param {Deployment} deployment
 * @param {(next: Deployment) => void} update
 */
export function actionButtons(deployment, update) {
  return h(
    "div",
    { class: "row" },
    allowed(deployment).map((action) =>
      h(
        "button",
        {
          type: "button",
          class: action === "delete" ? "danger" : "secondary",
          "aria-label": `${label(deployment, action).toLowerCase()} ${deployment.name}`,
          "data-action": action,
          "data-focus-key": `${deployment.id}:${action}`,
          onclick: async () => {
            if (!(await confirmed(deployment, action))) return;
            const before = { ...deployment };
            update({ ...before, ...OPTIMISTIC[action] });
            try {
              const answer = /** @type {Deployment} */ (await request(before, action));
              // The agent changes the status later: keep showing where it is heading until it does.
              update(
                answer.status === before.status
                  ? { ...answer, status: OPTIMISTIC[action].status }
                  : answer,
              );
              notify(`${before.name}: ${action} requested`, "ok");
            } catch (exc) {
              update(before);
              notifyError(exc);
            }
          },
        },
        label(deployment, action),
      ),
    ),
  );
}
