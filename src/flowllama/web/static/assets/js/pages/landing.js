// Landing page: platform status, and a shortcut into the app for a signed-in visitor.
import { h } from "../dom.js";
import { apiUrl, send } from "../http.js";
import { hasSession } from "../session.js";

const status = document.getElementById("platform-status");
send(apiUrl("/ready"))
  .then(() => {
    status.textContent = "ready";
  })
  .catch((exc) => {
    status.textContent = exc.message;
  });
if (hasSession()) {
  document
    .getElementById("cta")
    .prepend(h("a", { class: "button", href: "app.html" }, "Open your dashboard"));
}
