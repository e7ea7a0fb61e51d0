// Log in, then continue to the app page the user was sent here from.
import { submitting, values } from "../forms.js";
import { login } from "../session.js";

const params = new URLSearchParams(window.location.search);
const form = document.getElementById("login-form");
const info = document.getElementById("login-info");
if (params.get("registered")) {
  form.email.value = params.get("registered");
  info.textContent = "Your account is ready. Log in to continue.";
  form.password.focus();
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
