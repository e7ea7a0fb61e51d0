// Password reset: ask for a link by email, or (with ?token= from that link) set a new password.
import { fieldError, submitting, values } from "../forms.js";
import { byId } from "../dom.js";
import { apiUrl, send } from "../http.js";

const token = new URLSearchParams(window.location.search).get("token");
const requestForm = byId("request-form", HTMLFormElement);
const confirmForm = byId("confirm-form", HTMLFormElement);
(token ? confirmForm : requestForm).hidden = false;

requestForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const { email } = values(requestForm);
  submitting(requestForm, "Sending…", async () => {
    if (!email) {
      fieldError(requestForm, "email", "Enter your account's email");
      return;
    }
    const answer = /** @type {{message: string}} */ (
      await send(apiUrl("/api/auth/password-reset/request"), {
        method: "POST",
        body: { email },
      })
    );
    byId("request-done", HTMLElement).textContent = answer.message;
  });
});

confirmForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const data = values(confirmForm);
  submitting(confirmForm, "Saving…", async () => {
    if ((data.new_password || "").length < 10) {
      fieldError(confirmForm, "new_password", "Use at least 10 characters");
      return;
    }
    if (data.new_password !== data.confirm) {
      fieldError(confirmForm, "confirm", "The passwords differ");
      return;
    }
    await send(apiUrl("/api/auth/password-reset/confirm"), {
      method: "POST",
      body: { token, new_password: data.new_password },
    });
    window.location.assign("login.html?reset=1");
  });
});
