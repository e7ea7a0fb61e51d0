// A deployment's server log: the last N lines, following new ones, with a search that keeps
// only matching lines and marks the match.
import { api } from "./client.js";
import { fill, h } from "./dom.js";
import { messageOf } from "./http.js";

const FOLLOW_MS = 3000;

/**
 * @param {string} line
 * @param {string} term
 */
function highlight(line, term) {
  if (!term) return line + "\n";
  const at = line.toLowerCase().indexOf(term.toLowerCase());
  return [
    line.slice(0, at),
    h("mark", {}, line.slice(at, at + term.length)),
    line.slice(at + term.length),
    "\n",
  ];
}

/**
 * The logs panel of deployment `id`; returns [node, stop].
 * @param {string} id
 * @returns {[HTMLElement, () => void]}
 */
export function logsPanel(id) {
  const tail = h(
    "select",
    { id: "log-tail" },
    [100, 500, 2000].map((n) => h("option", { value: n }, `last ${n} lines`)),
  );
  const follow = h("input", { id: "log-follow", type: "checkbox", checked: true });
  const search = h("input", { id: "log-search", type: "search", placeholder: "Search the log" });
  const view = h("pre", {
    class: "logs",
    id: "log-lines",
    tabindex: 0,
    "aria-label": "Server log",
  });
  const note = h("p", { class: "small muted", role: "status" });
  /** @type {string[]} */
  let lines = [];
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;

  function render() {
    const term = search.value.trim();
    const shown = term ? lines.filter((l) => l.toLowerCase().includes(term.toLowerCase())) : lines;
    fill(
      view,
      shown.length
        ? shown.map((l) => highlight(l, term))
        : term
          ? "No line matches."
          : "No log lines yet.",
    );
    if (term) note.textContent = `${shown.length} of ${lines.length} lines match.`;
    if (follow.checked) view.scrollTop = view.scrollHeight;
  }

  async function load() {
    clearTimeout(timer);
    try {
      const logs = /** @type {{lines: string[], message?: string | null}} */ (
        await api.get(`/api/deployments/${id}/logs`, { tail: tail.value })
      );
      lines = logs.lines;
      note.textContent = logs.message || "";
      render();
    } catch (exc) {
      note.textContent = messageOf(exc);
    }
    if (follow.checked) timer = setTimeout(load, FOLLOW_MS);
  }

  tail.addEventListener("change", load);
  follow.addEventListener("change", load);
  search.addEventListener("input", render);
  const node = h(
    "section",
    { class: "card", "aria-labelledby": "logs-title" },
    h("h2", { id: "logs-title" }, "Logs"),
    h(
      "div",
      { class: "row" },
      h("label", { for: "log-tail", class: "sr-label" }, "Show"),
      tail,
      h("label", { for: "log-follow", style: "font-weight:400" }, follow, " Follow new lines"),
      h("label", { for: "log-search", class: "sr-label" }, "Search"),
      search,
    ),
    view,
    note,
  );
  load();
  return [node, () => clearTimeout(timer)];
}
