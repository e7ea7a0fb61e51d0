// The signed-in session. The access token lives only in memory (a script injected later cannot
// find it in storage, and it dies with the page). The refresh token is kept in sessionStorage so
// a reload or a link from the login page keeps the user signed in; sessionStorage is per tab and
// cleared when the tab closes. Refresh tokens rotate on every use and a replayed one ends the
// whole session on the server, so at most one refresh is ever in flight: within a page by one
// shared promise, across tabs (a tab opened from this one starts with a copy of its storage) by
// a Web Lock, and each rotated token is passed to the other tabs so none of them replays an old
// one.
import { apiUrl, ApiError, send } from "./http.js";

const REFRESH_KEY = "flowllama.refresh";
const channel = "BroadcastChannel" in window ? new BroadcastChannel("flowllama-session") : null;
/** @type {string | null} */
let accessToken = null;
/** @type {Promise<string | null> | null} */
let refreshing = null;

/** @typedef {{access_token: string, refresh_token: string}} TokenPair */

if (channel) {
  // Only a tab holding the very token that was rotated or ended follows (a copy of this tab's
  // session); a tab signed in separately, or signed out, is left alone.
  channel.onmessage = ({ data }) => {
    if (sessionStorage.getItem(REFRESH_KEY) !== data.old) return;
    if (data.refresh) sessionStorage.setItem(REFRESH_KEY, data.refresh);
    else forget();
  };
}

/**
 * @param {() => Promise<string | null>} task
 * @returns {Promise<string | null>}
 */
async function exclusive(task) {
  if (navigator.locks) return await navigator.locks.request("flowllama-refresh", task);
  return task();
}

export function hasSession() {
  return accessToken !== null || sessionStorage.getItem(REFRESH_KEY) !== null;
}

/** @param {TokenPair} pair */
function store(pair) {
  const old = sessionStorage.getItem(REFRESH_KEY);
  accessToken = pair.access_token;
  sessionStorage.setItem(REFRESH_KEY, pair.refresh_token);
  if (channel && old) channel.postMessage({ old, refresh: pair.refresh_token });
}

export function forget() {
  accessToken = null;
  sessionStorage.removeItem(REFRESH_KEY);
}

/**
 * @param {string} email
 * @param {string} password
 */
export async function login(email, password) {
  const pair = await send(apiUrl("/api/auth/login"), { method: "POST", body: { email, password } });
  store(/** @type {TokenPair} */ (pair));
}

/**
 * A new access token from the stored refresh token; null when there is no valid session.
 * @returns {Promise<string | null>}
 */
export function refresh() {
  if (refreshing) return refreshing;
  refreshing = exclusive(async () => {
    const token = sessionStorage.getItem(REFRESH_KEY); // read inside the lock: maybe just rotated
    if (!token) return null;
    const body = { refresh_token: token };
    store(
      /** @type {TokenPair} */ (await send(apiUrl("/api/auth/refresh"), { method: "POST", body })),
    );
    return accessToken;
  })
    .catch((exc) => {
      if (exc instanceof ApiError && exc.status >= 400 && exc.status < 500) forget();
      throw exc;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** @returns {Promise<string | null>} */
export async function currentToken() {
  return accessToken ?? (await refresh());
}

export async function logout() {
  const token = accessToken;
  const old = sessionStorage.getItem(REFRESH_KEY);
  forget();
  if (channel && old) channel.postMessage({ old });
  if (token) {
    try {
      await send(apiUrl("/api/auth/logout"), { method: "POST", token });
    } catch {
      /* gone */
    }
  }
}

/** Send the user to the login page, coming back to where they were afterwards. */
export function redirectToLogin() {
  const next = window.location.hash || "";
  window.location.replace("login.html" + (next ? `?next=${encodeURIComponent(next)}` : ""));
}
