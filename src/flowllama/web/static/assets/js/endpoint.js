// A deployment's endpoint (the gateway's OpenAI base URL; the model is the deployment's name)
// with its copy button, or a dash while it has none.
import { copyButton } from "./clipboard.js";
import { h } from "./dom.js";

/** @param {import("./types.js").Deployment} d */
export function endpointCell(d) {
  if (!d.endpoint_url) return h("span", { class: "muted" }, "—");
  return h(
    "div",
    { class: "row" },
    h("code", { class: "endpoint" }, d.endpoint_url),
    copyButton("Copy", d.endpoint_url, {
      "aria-label": `Copy the endpoint of ${d.name}`,
      "data-copy": "endpoint",
      "data-focus-key": `${d.id}:copy`,
    }),
  );
}
