// Plain HTTP to the FlowLlama REST API: JSON in and out, one error type for every failure.
import { config } from "../config.js";

/** An API refusal: HTTP status plus the API's `{error: {code, message, field}}`. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {string | null} [field]
   */
  constructor(status, code, message, field = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** @param {string} url */
function base(url) {
  return (url || window.location.origin).replace(/\/+$/, "");
}

/**
 * Absolute URL of an API path (`/api/...`).
 * @param {string} path
 */
export function apiUrl(path) {
  return base(config.apiUrl) + path;
}

/** Base URL of the OpenAI-compatible token API (`.../v1`). */
export function gatewayBase() {
  return base(config.gatewayUrl || config.apiUrl) + "/v1";
}

/**
 * The ApiError for a refused `response` (the API's or OpenAI's error envelope, or its status).
 * @param {Response} response
 * @returns {Promise<ApiError>}
 */
export async function errorOf(response) {
  /** @type {{error?: {code?: string, message?: string, field?: string, param?: string}} | null} */
  let body = null;
  try {
    body = await response.json();
  } catch {
    /* not JSON */
  }
  const err = body && body.error;
  if (err && typeof err === "object") {
    return new ApiError(
      response.status,
      err.code || "error",
      err.message || response.statusText,
      err.field || err.param || null,
    );
  }
  return new ApiError(
    response.status,
    "http_" + response.status,
    `The server answered ${response.status} ${response.statusText}`,
  );
}

/**
 * @typedef {object} SendOptions
 * @property {string} [method]
 * @property {unknown} [body]  sent as JSON
 * @property {string | null} [token]  bearer token
 * @property {Record<string, string>} [headers]
 * @property {AbortSignal} [signal]
 */

/**
 * The message of anything thrown (an Error's, else its text).
 * @param {unknown} exc
 */
export function messageOf(exc) {
  return exc instanceof Error ? exc.message : String(exc);
}

/**
 * Whether `exc` is the rejection of an aborted fetch (a newer request replaced it).
 * @param {unknown} exc
 */
export function isAbort(exc) {
  return exc instanceof Error && exc.name === "AbortError";
}

/**
 * Send a request to `url`; resolves to the parsed JSON body (null for 204), or throws ApiError.
 * The body's shape is the caller's to state (`types.js`).
 * @param {string} url
 * @param {SendOptions} [options]
 * @returns {Promise<unknown>}
 */
export async function send(url, { method = "GET", body, token, headers = {}, signal } = {}) {
  /** @type {Record<string, string>} */
  const all = { Accept: "application/json", ...headers };
  if (body !== undefined) all["Content-Type"] = "application/json";
  if (token) all.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: all,
      signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (exc) {
    if (isAbort(exc)) throw exc;
    throw new ApiError(0, "network", "Cannot reach the FlowLlama API; check your connection");
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}
