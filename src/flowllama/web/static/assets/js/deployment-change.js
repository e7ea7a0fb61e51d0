// What an edit of a deployment sends: only the fields that differ from the deployment as it was
// shown (`PATCH /api/deployments/{id}`), and the API's field names mapped back to the inputs,
// so a refusal lands next to the input it is about.
import { api } from "./client.js";
import { ApiError } from "./http.js";

/** @typedef {import("./types.js").Deployment} Deployment */

/**
 * @typedef {object} DeploymentChange  the PATCH body; every field optional
 * @property {string} [model]
 * @property {number} [context_size]
 * @property {number} [parallel]
 * @property {string} [spot_tolerance]
 * @property {string} [gpu]
 * @property {string | null} [region]
 * @property {string | null} [instance_type]
 * @property {number | null} [idle_timeout_s]
 * @property {{min: number, max: number}} [replicas]
 * @property {boolean} [auto_move]
 */

/** @type {Record<string, string>} */
const INPUT_OF = {
  idle_timeout_s: "idle_minutes",
  replicas: "replicas_min",
  "replicas.min": "replicas_min",
  "replicas.max": "replicas_max",
};

/**
 * The edit form's input for a field the API named (`replicas.max` → `replicas_max`).
 * @param {string | null} field
 */
export function inputOf(field) {
  if (!field) return null;
  return INPUT_OF[field] || field;
}

/**
 * The deployment's idle timeout in whole minutes (what the form shows), or null when off.
 * @param {Deployment} d
 */
export function idleMinutes(d) {
  const seconds = d.idle_timeout_s;
  return seconds === null || seconds === undefined ? null : Math.max(1, Math.round(seconds / 60));
}

/**
 * @param {Deployment} d
 * @returns {{min: number, max: number, desired: number, running: number}}
 */
export function replicasOf(d) {
  return d.replicas || { min: 1, max: 1, desired: 1, running: d.instances.length ? 1 : 0 };
}

/**
 * The text inputs that differ from `d` (an input absent from `f`, e.g. disabled, is unchanged).
 * @param {Deployment} d
 * @param {Record<string, string>} f
 * @param {DeploymentChange} out
 */
function specChanges(d, f, out) {
  if (f.model !== undefined && f.model !== d.model) out.model = f.model;
  if (f.context_size !== undefined && Number(f.context_size) !== d.context_size)
    out.context_size = Number(f.context_size);
  if (f.parallel !== undefined && Number(f.parallel) !== (d.parallel ?? 1))
    out.parallel = Number(f.parallel);
  if (f.spot_tolerance !== undefined && f.spot_tolerance !== d.spot_tolerance)
    out.spot_tolerance = f.spot_tolerance;
  if (f.gpu !== undefined && f.gpu !== d.gpu) out.gpu = f.gpu;
  // An emptied region or instance type lifts the constraint (null: the cheapest fit).
  if (f.region !== undefined && (f.region.trim() || null) !== (d.region || null))
    out.region = f.region.trim() || null;
  if (
    f.instance_type !== undefined &&
    (f.instance_type.trim() || null) !== (d.instance_type || null)
  )
    out.instance_type = f.instance_type.trim() || null;
}

/**
 * The PATCH body for the edit form's values `f` (input names, as `forms.values` reads them).
 * @param {Deployment} d  the deployment as the form was opened on
 * @param {Record<string, string>} f
 * @returns {DeploymentChange}
 */
export function changes(d, f) {
  /** @type {DeploymentChange} */
  const out = {};
  specChanges(d, f, out);
  const minutes = f.idle_on ? Number(f.idle_minutes) : null;
  if (minutes !== idleMinutes(d)) out.idle_timeout_s = minutes === null ? null : minutes * 60;
  Object.assign(out, replicasChange(d, f));
  if (Boolean(f.auto_move) !== Boolean(d.auto_move)) out.auto_move = Boolean(f.auto_move);
  return out;
}

/**
 * `{replicas: {min, max}}` when the inputs `replicas_min`/`replicas_max` differ from `d`, else {}.
 * @param {Deployment} d
 * @param {Record<string, string>} f
 * @returns {DeploymentChange}
 */
export function replicasChange(d, f) {
  if (f.replicas_min === undefined || f.replicas_max === undefined) return {};
  const now = replicasOf(d);
  const min = Number(f.replicas_min);
  const max = Number(f.replicas_max);
  return min === now.min && max === now.max ? {} : { replicas: { min, max } };
}

/**
 * Send `change`; resolves to the deployment as the API answers it. A refusal is re-thrown with
 * its field named as the form's input.
 * @param {Deployment} d
 * @param {DeploymentChange} change
 * @returns {Promise<Deployment>}
 */
export async function sendChange(d, change) {
  try {
    return /** @type {Deployment} */ (await api.patch(`/api/deployments/${d.id}`, change));
  } catch (exc) {
    if (!(exc instanceof ApiError)) throw exc;
    throw new ApiError(exc.status, exc.code, exc.message, inputOf(exc.field));
  }
}
