// Authenticated calls to the REST API: the access token is attached, and a 401 triggers one
// refresh and one retry; with no session left the user goes to the login page.
import { apiUrl, ApiError, send } from "./http.js";
import { currentToken, redirectToLogin, refresh } from "./session.js";

// A refused refresh means no session; a network or server failure is reported, not a logout.
function sessionOrNull(exc) {
  if (exc instanceof ApiError && exc.status >= 400 && exc.status < 500) return null;
  throw exc;
}

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

function query(params) {
  const pairs = Object.entries(params || {}).filter(([, v]) => v !== null && v !== undefined && v !== "");
  return pairs.length ? "?" + new URLSearchParams(pairs).toString() : "";
}

export const api = {
  get: (path, params, options) => call(path + query(params), options),
  post: (path, body, options) => call(path, { ...options, method: "POST", body }),
  put: (path, body, options) => call(path, { ...options, method: "PUT", body }),
  del: (path, options) => call(path, { ...options, method: "DELETE" }),
};
