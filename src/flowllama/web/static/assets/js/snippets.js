// A deployment's endpoint with example calls (curl, the openai package), each with a copy button.
import { copyButton } from "./clipboard.js";
import { h } from "./dom.js";
import { gatewayBase } from "./http.js";

/** @param {import("./types.js").Deployment} d */
export function snippets(d) {
  const base = d.endpoint_url || gatewayBase();
  const curl = `curl ${base}/chat/completions \\\n  -H "Authorization: Bearer $FLOWLLAMA_API_KEY" \\\n  -H "Content-Type: application/json" \\\n  -d '{"model": "${d.name}", "messages": [{"role": "user", "content": "Hello"}]}'`;
  const python = `from openai import OpenAI\n\nclient = OpenAI(base_url="${base}", api_key="fl-...")\nreply = client.chat.completions.create(\n    model="${d.name}", messages=[{"role": "user", "content": "Hello"}])\nprint(reply.choices[0].message.content)`;
  return h(
    "section",
    { class: "card", "aria-labelledby": "endpoint-title" },
    h("h2", { id: "endpoint-title" }, "Endpoint"),
    h(
      "p",
      {},
      "Token API (with an API key): ",
      h("code", {}, base),
      ", model ",
      h("code", {}, d.name),
    ),
    h("div", { id: "endpoint-now" }),
    h("h3", {}, "curl"),
    h("div", { class: "row" }, copyButton("Copy curl", curl)),
    h("pre", {}, curl),
    h("h3", {}, "Python (openai)"),
    h("div", { class: "row" }, copyButton("Copy Python", python)),
    h("pre", {}, python),
  );
}
