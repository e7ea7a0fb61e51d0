// Sign-up: create the account, then go to the login page with the email filled in.
import { fieldError, submitting, values } from "../forms.js";
import { byId } from "../dom.js";
import { apiUrl, send } from "../http.js";
import { checkCredentials } from "../validation.js";

const form = byId("signup-form", HTMLFormElement);
form.addEventListener("submit", (event) => {
  event.preventDefault();
  const data = values(form);
  submitting(form, "Creating your account…", async () => {
    const problem = checkCredentials(data);
    if (problem) {
      fieldError(form, ...problem);
      return;
    }
    await send(apiUrl("/api/auth/register"), {
      method: "POST",
      body: { email: data.email, password: data.password },
    });
    window.location.assign(`login.html?registered=${encodeURIComponent(data.email)}`);
  });
});
