// A small chat through the token API (/v1/chat/completions), the way a customer's code calls
// it: with an API key, which the user pastes or creates here. The key stays in this page only.
import { api } from "./client.js";
import { fill, h } from "./dom.js";
import { gatewayBase, send } from "./http.js";
import { notify } from "./notices.js";

export function playground(deployment) {
  const key = h("input", { id: "playground-key", type: "password", autocomplete: "off", placeholder: "fl-…" });
  const prompt = h("textarea", { id: "playground-prompt", rows: 3, required: true });
  const history = h("div", { class: "chat", id: "playground-chat", "aria-live": "polite" });
  const messages = [];
  const form = h("form", { id: "playground-form", novalidate: true });

  async function createKey() {
    try {
      const created = await api.post("/api/keys", { name: `playground ${deployment.name}`, models: [deployment.name] });
      key.value = created.key;
      notify(`Created key ${created.prefix}… for this playground (also listed under API keys)`, "ok");
    } catch (exc) {
      notify(exc.message, "error");
    }
  }

  async function ask(event) {
    event.preventDefault();
    const text = prompt.value.trim();
    if (!key.value.trim()) { notify("Paste an API key or create one first", "error"); key.focus(); return; }
    if (!text) { prompt.focus(); return; }
    messages.push({ role: "user", content: text });
    history.append(h("div", { class: "msg user" }, h("strong", {}, "You: "), text));
    prompt.value = "";
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    button.textContent = "Waiting for the model…";
    try {
      const reply = await send(`${gatewayBase()}/chat/completions`, { method: "POST", token: key.value.trim(),
        body: { model: deployment.name, messages, max_tokens: 128 } });
      const answer = reply.choices[0].message.content || "";
      messages.push({ role: "assistant", content: answer });
      history.append(h("div", { class: "msg assistant" }, h("strong", {}, `${deployment.name}: `), answer,
        h("span", { class: "small muted" }, ` (${reply.usage ? reply.usage.total_tokens : "?"} tokens)`)));
    } catch (exc) {
      messages.pop();
      history.append(h("p", { class: "alert", role: "alert" }, exc.message));
    } finally {
      button.disabled = false;
      button.textContent = "Send";
    }
  }

  fill(form,
    h("div", { class: "field" }, h("label", { for: "playground-key" }, "API key"), key),
    h("p", {}, h("button", { type: "button", class: "secondary", onclick: createKey }, "Create a key for this playground")),
    history,
    h("div", { class: "field" }, h("label", { for: "playground-prompt" }, "Message"), prompt),
    h("p", {}, h("button", { type: "submit" }, "Send")));
  form.addEventListener("submit", ask);
  return h("section", { class: "card", "aria-labelledby": "playground-title" },
    h("h2", { id: "playground-title" }, "Playground"),
    h("p", { class: "small muted" }, `Chats with ${deployment.name} through ${gatewayBase()}/chat/completions.`), form);
}
