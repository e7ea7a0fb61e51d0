// Landing page: platform status, and a shortcut into the app for a signed-in visitor.
import { byId, h } from "../dom.js";
import { apiUrl, messageOf, send } from "../http.js";
import { hasSession } from "../session.js";

const status = byId("platform-status", HTMLElement);
send(apiUrl("/ready"))
  .then(() => {
    status.textContent = "ready";
  })
  .catch((exc) => {
    status.textContent = messageOf(exc);
  });
if (hasSession()) {
  byId("cta", HTMLElement).prepend(
    h("a", { class: "button", href: "app.html" }, "Open your dashboard"),
  );
}
