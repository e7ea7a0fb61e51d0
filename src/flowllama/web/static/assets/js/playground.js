// A small chat through the token API (/v1/chat/completions), the way a customer's code calls
// it: with an API key, which the user pastes or creates here. The key stays in this page only.
import { api } from "./client.js";
import { fill, h, select } from "./dom.js";
import { gatewayBase, messageOf } from "./http.js";
import { notify } from "./notices.js";
import { streamEvents } from "./sse.js";

/** @param {import("./types.js").Deployment} deployment */
export function playground(deployment) {
  const key = h("input", {
    id: "playground-key",
    type: "password",
    autocomplete: "off",
    placeholder: "fl-…",
  });
  const prompt = h("textarea", { id: "playground-prompt", rows: 3, required: true });
  const history = h("div", { class: "chat", id: "playground-chat", "aria-live": "polite" });
  /** @type {{role: "user" | "assistant", content: string}[]} */
  const messages = [];
  const form = h("form", { id: "playground-form", novalidate: true });

  async function createKey() {
    try {
      const created = /** @type {import("./types.js").CreatedKey} */ (
        await api.post("/api/keys", {
          name: `playground ${deployment.name}`,
          models: [deployment.name],
        })
      );
      key.value = created.key;
      notify(
        `Created key ${created.prefix}… for this playground (also listed under API keys)`,
        "ok",
      );
    } catch (exc) {
      notify(messageOf(exc), "error");
    }
  }

  /** @param {SubmitEvent} event */
  async function ask(event) {
    event.preventDefault();
    const text = prompt.value.trim();
    if (!key.value.trim()) {
      notify("Paste an API key or create one first", "error");
      key.focus();
      return;
    }
    if (!text) {
      prompt.focus();
      return;
    }
    messages.push({ role: "user", content: text });
    history.append(h("div", { class: "msg user" }, h("strong", {}, "You: "), text));
    prompt.value = "";
    const button = select(form, "button[type=submit]", HTMLButtonElement);
    button.disabled = true;
    button.textContent = "Waiting for the model…";
    const reply = h("span", { class: "reply" });
    const usage = h("span", { class: "small muted" });
    const bubble = h(
      "div",
      { class: "msg assistant", "aria-busy": "true" },
      h("strong", {}, `${deployment.name}: `),
      reply,
      usage,
    );
    try {
      // Streamed, so the answer shows word by word as the model writes it.
      await streamEvents(`${gatewayBase()}/chat/completions`, {
        token: key.value.trim(),
        body: {
          model: deployment.name,
          messages,
          max_tokens: 128,
          stream: true,
          stream_options: { include_usage: true },
        },
        onEvent: (chunk) => {
          if (!bubble.isConnected) history.append(bubble);
          const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
          if (delta && delta.content) reply.append(delta.content);
          if (chunk.usage) usage.textContent = ` (${chunk.usage.total_tokens} tokens)`;
        },
      });
      messages.push({ role: "assistant", content: reply.textContent });
      bubble.dataset.done = "true";
    } catch (exc) {
      messages.pop(); // the question goes unanswered: keep the turns alternating
      history.append(h("p", { class: "alert", role: "alert" }, messageOf(exc)));
    } finally {
      bubble.removeAttribute("aria-busy");
      button.disabled = false;
      button.textContent = "Send";
    }
  }

  fill(
    form,
    h("div", { class: "field" }, h("label", { for: "playground-key" }, "API key"), key),
    h(
      "p",
      {},
      h(
        "button",
        { type: "button", class: "secondary", onclick: createKey },
        "Create a key for this playground",
      ),
    ),
    history,
    h("div", { class: "field" }, h("label", { for: "playground-prompt" }, "Message"), prompt),
    h("p", {}, h("button", { type: "submit" }, "Send")),
  );
  form.addEventListener("submit", ask);
  return h(
    "section",
    { class: "card", "aria-labelledby": "playground-title" },
    h("h2", { id: "playground-title" }, "Playground"),
    h(
      "p",
      { class: "small muted" },
      `Chats with ${deployment.name} through ${gatewayBase()}/chat/completions.`,
    ),
    form,
  );
}
