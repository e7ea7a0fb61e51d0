// Client-side checks that mirror the API's own, so most mistakes are caught before a request.

export const NAME_RULE = /^[a-z0-9-]{1,63}$/;
export const REGION_RULE = /^[a-z0-9-]{2,64}$/;
const EMAIL_RULE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * [field, message] of the first problem with an email and a new password, or null.
 * @param {{email?: string, password?: string, confirm?: string}} fields
 * @param {string} [passwordField]
 * @returns {[string, string] | null}
 */
export function checkCredentials({ email, password, confirm }, passwordField = "password") {
  if (!EMAIL_RULE.test(email || "")) return ["email", "Enter a valid email address"];
  if ((password || "").length < 10) return [passwordField, "Use at least 10 characters"];
  if (confirm !== undefined && confirm !== password) return ["confirm", "The passwords differ"];
  return null;
}

/**
 * @param {string | undefined} name
 * @returns {string | null}
 */
export function checkDeploymentName(name) {
  if (!name) return "Give the deployment a name";
  if (!NAME_RULE.test(name)) return "Use 1 to 63 characters: lowercase letters, digits and '-'";
  return null;
}

export const INSTANCE_TYPE_RULE = /^[a-z0-9][a-z0-9.-]{1,63}$/;
export const MAX_IDLE_MINUTES = 30 * 24 * 60; // the API's limit: 30 days

/**
 * @param {string | undefined} text
 * @param {number} low
 * @param {number} high
 */
function wholeIn(text, low, high) {
  const n = Number(text);
  return text !== undefined && text !== "" && Number.isInteger(n) && n >= low && n <= high;
}

/**
 * [field, message] of the first problem with the edit form of a deployment (its inputs' names
 * and text), or null. `maxContext` is the chosen model's context length, when known.
 * @param {Record<string, string>} f
 * @param {number | null} [maxContext]
 * @returns {[string, string] | null}
 */
export function checkDeploymentChange(f, maxContext = null) {
  const top = maxContext || 1048576;
  // A disabled input is absent: it is not sent, so there is nothing to check.
  if (f.context_size !== undefined && !wholeIn(f.context_size, 256, top))
    return [
      "context_size",
      `Use a whole number of tokens from 256 to ${top.toLocaleString("en-US")}`,
    ];
  if (f.parallel !== undefined && !wholeIn(f.parallel, 1, 64))
    return ["parallel", "Use 1 to 64 parallel requests"];
  if (f.region && !REGION_RULE.test(f.region))
    return ["region", "A region is 2 to 64 characters of a-z, 0-9 and '-'"];
  if (f.instance_type && !INSTANCE_TYPE_RULE.test(f.instance_type))
    return ["instance_type", "An instance type is 2 to 64 characters of a-z, 0-9, '.' and '-'"];
  if (f.idle_on && !wholeIn(f.idle_minutes, 1, MAX_IDLE_MINUTES))
    return ["idle_minutes", `Use 1 to ${MAX_IDLE_MINUTES.toLocaleString("en-US")} minutes`];
  return checkReplicas(f);
}

/**
 * [field, message] of the first problem with a replicas pair (inputs `replicas_min`,
 * `replicas_max`), or null.
 * @param {Record<string, string>} f
 * @returns {[string, string] | null}
 */
export function checkReplicas(f) {
  if (!wholeIn(f.replicas_min, 1, 16)) return ["replicas_min", "Use 1 to 16 servers"];
  if (!wholeIn(f.replicas_max, 1, 16)) return ["replicas_max", "Use 1 to 16 servers"];
  if (Number(f.replicas_min) > Number(f.replicas_max))
    return ["replicas_max", "The maximum cannot be below the minimum"];
  return null;
}
