// Log in, then continue to the app page the user was sent here from.
import { submitting, values } from "../forms.js";
import { byId, select } from "../dom.js";
import { login } from "../session.js";

const params = new URLSearchParams(window.location.search);
const form = byId("login-form", HTMLFormElement);
const info = byId("login-info", HTMLElement);
const registered = params.get("registered");
if (registered) {
  select(form, "[name=email]", HTMLInputElement).value = registered;
  info.textContent = "Your account is ready. Log in to continue.";
  select(form, "[name=password]", HTMLInputElement).focus();
} else if (params.get("reset")) {
  info.textContent = "Your password was changed. Log in with the new one.";
}

function destination() {
  const next = params.get("next") || "";
  // Only a hash route inside the app, never another origin.
  return "app.html" + (next.startsWith("#/") ? next : "");
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const { email, password } = values(form);
  submitting(form, "Logging in…", async () => {
    await login(email, password);
    window.location.assign(destination());
  });
});
