// The signed-in app: a hash router over the views; logged-out visitors go to the login page.
import { api } from "./client.js";
import { fill, h } from "./dom.js";
import { hasSession, logout, redirectToLogin } from "./session.js";
import * as deployment from "./views/deployment.js";
import * as deployments from "./views/deployments.js";
import * as keys from "./views/keys.js";
import * as loadtests from "./views/loadtests.js";
import * as newDeployment from "./views/new-deployment.js";
import * as usage from "./views/usage.js";

const ROUTES = [
  [/^#\/deployments\/([A-Za-z0-9_-]+)$/, deployment, "deployments", "Deployment"],
  [/^#\/deployments\/([A-Za-z0-9_-]+)\/loadtests$/, loadtests, "deployments", "Load tests"],
  [/^#\/new$/, newDeployment, "new", "New deployment"],
  [/^#\/keys$/, keys, "keys", "API keys"],
  [/^#\/usage$/, usage, "usage", "Usage"],
  [/^(#\/deployments)?$/, deployments, "deployments", "Deployments"],
];

const root = document.getElementById("main");
let cleanup = null;

function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  const hash = window.location.hash === "#/" ? "" : window.location.hash;
  const match = ROUTES.find(([pattern]) => pattern.test(hash));
  if (!match) {
    fill(root, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "#/deployments" }, "Go to your deployments")));
    return;
  }
  const [pattern, view, nav, title] = match;
  document.querySelectorAll("nav a[data-route]").forEach((a) => {
    if (a.dataset.route === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  document.title = `${title} · FlowLlama`;
  fill(root);
  cleanup = view.mount(root, hash.match(pattern).slice(1)) || null;
}

function navigated() {
  route();
  root.focus(); // screen readers and keyboard users start at the new view, not the old link
}

async function start() {
  if (!hasSession()) { redirectToLogin(); return; }
  try {
    const me = await api.get("/api/auth/me");
    document.getElementById("who").textContent = me.email;
  } catch (exc) {
    if (exc.status === 401) return; // the client has sent the user to the login page
    fill(root, h("h1", {}, "FlowLlama is unreachable"), h("p", { class: "alert", role: "alert" }, exc.message),
      h("p", {}, h("button", { type: "button", onclick: () => window.location.reload() }, "Try again")));
    return;
  }
  document.getElementById("logout").addEventListener("click", async () => {
    await logout();
    window.location.assign("login.html");
  });
  window.addEventListener("hashchange", navigated);
  route();
}

start();
