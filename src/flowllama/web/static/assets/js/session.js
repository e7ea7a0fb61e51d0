// The signed-in session. The access token lives only in memory (a script injected later cannot
// find it in storage, and it dies with the page). The refresh token is kept in sessionStorage so
// a reload or a link from the login page keeps the user signed in; sessionStorage is per tab and
// cleared when the tab closes. Refresh tokens rotate on every use and a replayed one ends the
// whole session on the server, so at most one refresh is ever in flight.
import { apiUrl, ApiError, send } from "./http.js";

const REFRESH_KEY = "flowllama.refresh";
let accessToken = null;
let refreshing = null;

export function hasSession() {
  return accessToken !== null || sessionStorage.getItem(REFRESH_KEY) !== null;
}

function store(pair) {
  accessToken = pair.access_token;
  sessionStorage.setItem(REFRESH_KEY, pair.refresh_token);
}

export function forget() {
  accessToken = null;
  sessionStorage.removeItem(REFRESH_KEY);
}

export async function login(email, password) {
  store(await send(apiUrl("/api/auth/login"), { method: "POST", body: { email, password } }));
}

/** A new access token from the stored refresh token; null when there is no valid session. */
export function refresh() {
  if (refreshing) return refreshing;
  const token = sessionStorage.getItem(REFRESH_KEY);
  if (!token) return Promise.resolve(null);
  refreshing = send(apiUrl("/api/auth/refresh"), { method: "POST", body: { refresh_token: token } })
    .then((pair) => { store(pair); return accessToken; })
    .catch((exc) => {
      if (exc instanceof ApiError && exc.status >= 400 && exc.status < 500) forget();
      throw exc;
    })
    .finally(() => { refreshing = null; });
  return refreshing;
}

export async function currentToken() {
  return accessToken ?? (await refresh());
}

export async function logout() {
  const token = accessToken;
  forget();
  if (token) {
    try { await send(apiUrl("/api/auth/logout"), { method: "POST", token }); } catch { /* gone */ }
  }
}

/** Send the user to the login page, coming back to where they were afterwards. */
export function redirectToLogin() {
  const next = window.location.hash || "";
  window.location.replace("login.html" + (next ? `?next=${encodeURIComponent(next)}` : ""));
}
