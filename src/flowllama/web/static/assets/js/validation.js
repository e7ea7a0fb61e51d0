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
