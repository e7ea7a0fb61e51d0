// Authenticated calls to the REST API: the access token is attached, and a 401 triggers one
// refresh and one retry; with no session left the user goes to the login page.
import { apiUrl, ApiError, send } from "./http.js";
import { currentToken, redirectToLogin, refresh } from "./session.js";

// A refused refresh means no session; a network or server failure is reported, not a logout.
/**
 * @param {unknown} exc
 * @returns {null}
 */
function sessionOrNull(exc) {
  if (exc instanceof ApiError && exc.status >= 400 && exc.status < 500) return null;
  throw exc;
}

/**
 * @param {string} path
 * @param {import("./http.js").SendOptions} [options]
 * @returns {Promise<unknown>}
 */
async function call(path, options = {}) {
  let token = await currentToken().catch(sessionOrNull);
  if (!token) {
    redirectToLogin();
    throw new ApiError(401, "unauthenticated", "Please log in");
  }
  try {
    return await send(apiUrl(path), { ...options, token });
  } catch (exc) {
    if (!(exc instanceof ApiError) || exc.status !== 401) throw exc;
    token = await refresh().catch(sessionOrNull);
    if (!token) {
      redirectToLogin();
      throw exc;
    }
    return send(apiUrl(path), { ...options, token });
  }
}

/** @typedef {Record<string, string | number | null | undefined>} Params */

/** @param {Params | undefined} params */
function query(params) {
  const pairs = Object.entries(params || {}).filter(
    ([, v]) => v !== null && v !== undefined && v !== "",
  );
  return pairs.length
    ? "?" + new URLSearchParams(pairs.map(([k, v]) => [k, String(v)])).toString()
    : "";
}

/** @typedef {Omit<import("./http.js").SendOptions, "method" | "body" | "token">} CallOptions */

/**
 * The REST API, signed in. Each call resolves to the JSON body as `unknown`: the caller states
 * its shape with a cast to a type of `types.js`.
 */
export const api = {
  /** @type {(path: string, params?: Params, options?: CallOptions) => Promise<unknown>} */
  get: (path, params, options) => call(path + query(params), options),
  /** @type {(path: string, body?: unknown, options?: CallOptions) => Promise<unknown>} */
  post: (path, body, options) => call(path, { ...options, method: "POST", body }),
  /** @type {(path: string, body?: unknown, options?: CallOptions) => Promise<unknown>} */
  put: (path, body, options) => call(path, { ...options, method: "PUT", body }),
  /** @type {(path: string, body?: unknown, options?: CallOptions) => Promise<unknown>} */
  patch: (path, body, options) => call(path, { ...options, method: "PATCH", body }),
  /** @type {(path: string, options?: CallOptions) => Promise<unknown>} */
  del: (path, options) => call(path, { ...options, method: "DELETE" }),
};
