// The signed-in app: a hash router over the views; logged-out visitors go to the login page.
import { refreshBudgetNotice } from "./budget-notice.js";
import { api } from "./client.js";
import { byId, fill, h } from "./dom.js";
import { ApiError, messageOf } from "./http.js";
import { hasSession, logout, redirectToLogin } from "./session.js";
import * as deployment from "./views/deployment.js";
import * as deployments from "./views/deployments.js";
import * as keys from "./views/keys.js";
import * as loadtests from "./views/loadtests.js";
import * as newDeployment from "./views/new-deployment.js";
import * as usage from "./views/usage.js";

/**
 * A view: `mount(root, captures)` draws it into `root` and may return its cleanup.
 * @typedef {{mount: (root: HTMLElement, captures: string[]) => (() => void) | void}} View
 */

/** @type {[RegExp, View, string, string][]} */
const ROUTES = [
  [/^#\/deployments\/([A-Za-z0-9_-]+)$/, deployment, "deployments", "Deployment"],
  [/^#\/deployments\/([A-Za-z0-9_-]+)\/loadtests$/, loadtests, "deployments", "Load tests"],
  [/^#\/new$/, newDeployment, "new", "New deployment"],
  [/^#\/keys$/, keys, "keys", "API keys"],
  [/^#\/usage$/, usage, "usage", "Usage"],
  [/^(#\/deployments)?$/, deployments, "deployments", "Deployments"],
];

const root = byId("main", HTMLElement);
/** @type {(() => void) | null} */
let cleanup = null;

function route() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const hash = window.location.hash === "#/" ? "" : window.location.hash;
  const match = ROUTES.find(([pattern]) => pattern.test(hash));
  if (!match) {
    fill(
      root,
      h("h1", {}, "Page not found"),
      h("p", {}, h("a", { href: "#/deployments" }, "Go to your deployments")),
    );
    return;
  }
  const [pattern, view, nav, title] = match;
  document.querySelectorAll("nav a[data-route]").forEach((a) => {
    if (!(a instanceof HTMLElement)) return;
    if (a.dataset.route === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  document.title = `${title} · FlowLlama`;
  fill(root);
  const captures = (hash.match(pattern) || []).slice(1);
  cleanup = view.mount(root, captures) || null;
}

function navigated() {
  route();
  root.focus(); // screen readers and keyboard users start at the new view, not the old link
}

async function start() {
  if (!hasSession()) {
    redirectToLogin();
    return;
  }
  try {
    const me = /** @type {{email: string}} */ (await api.get("/api/auth/me"));
    byId("who", HTMLElement).textContent = me.email;
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) return; // the client has sent the user to the login page
    fill(
      root,
      h("h1", {}, "FlowLlama is unreachable"),
      h("p", { class: "alert", role: "alert" }, messageOf(exc)),
      h(
        "p",
        {},
        h("button", { type: "button", onclick: () => window.location.reload() }, "Try again"),
      ),
    );
    return;
  }
  byId("logout", HTMLButtonElement).addEventListener("click", async () => {
    await logout();
    window.location.assign("login.html");
  });
  window.addEventListener("hashchange", navigated);
  route();
  refreshBudgetNotice();
}

start();
