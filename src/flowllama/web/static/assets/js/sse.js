// Server-sent events from the token API (`stream: true`): each `data:` event is handed over as
// soon as it is complete; an error event (the gateway's way to report a stream broken off
// half-way) becomes an ApiError.
import { ApiError, errorOf, isAbort } from "./http.js";

/** @typedef {import("./types.js").ChatChunk} ChatChunk */

/**
 * @param {string} event
 * @returns {ChatChunk | null}
 */
function parse(event) {
  const data = event
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).trimStart())
    .join("\n");
  if (!data || data === "[DONE]") return null;
  const body = JSON.parse(data);
  if (body.error) throw new ApiError(502, body.error.code || "stream_error", body.error.message);
  return body;
}

/**
 * POST `body` as JSON to `url` with `token` and call `onEvent(json)` for every event.
 * @param {string} url
 * @param {{body: unknown, token: string, onEvent: (chunk: ChatChunk) => void, signal?: AbortSignal}} options
 */
export async function streamEvents(url, { body, token, onEvent, signal }) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      signal,
      body: JSON.stringify(body),
      headers: {
        "Content-Type": "application/json",
        Accept: "text/event-stream",
        Authorization: `Bearer ${token}`,
      },
    });
  } catch (exc) {
    if (isAbort(exc)) throw exc;
    throw new ApiError(0, "network", "Cannot reach the token API; check your connection");
  }
  if (!response.ok) throw await errorOf(response);
  if (!response.body) throw new ApiError(502, "stream_error", "The answer has no body");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event) onEvent(event);
    }
  }
}
