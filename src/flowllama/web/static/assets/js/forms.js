// Form plumbing shared by every page: values, field errors next to their input, busy buttons.
import { h } from "./dom.js";
import { ApiError } from "./http.js";

export function values(form) {
  return Object.fromEntries(new FormData(form).entries());
}

export function clearErrors(form) {
  form.querySelectorAll(".field-error").forEach((node) => node.remove());
  form.querySelectorAll("[aria-invalid]").forEach((node) => {
    node.removeAttribute("aria-invalid");
    node.removeAttribute("aria-describedby");
  });
  const alert = form.querySelector(".form-alert");
  if (alert) alert.replaceChildren();
}

/** Put `message` under the input named `field` (or in the form's alert when there is none). */
export function fieldError(form, field, message) {
  const name = field ? String(field).split(".").pop() : null;
  const input = name ? form.querySelector(`[name="${CSS.escape(name)}"]`) : null;
  if (!input) {
    const alert = form.querySelector(".form-alert");
    if (alert) alert.replaceChildren(h("p", { class: "alert", role: "alert" }, message));
    return;
  }
  const id = `${input.id || name}-error`;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", id);
  const wrapper = input.closest(".field") || input;
  wrapper.after(h("p", { class: "field-error", id, role: "alert" }, message));
  input.focus();
}

/** Show an API error (or any error) on `form`, at its field when the API named one. */
export function showError(form, exc) {
  if (exc instanceof ApiError) fieldError(form, exc.field, exc.message);
  else fieldError(form, null, String(exc && exc.message ? exc.message : exc));
}

/** Run `task` with the submit button disabled and showing `busyLabel`; errors land on the form. */
export async function submitting(form, busyLabel, task) {
  const button = form.querySelector("button[type=submit]");
  const label = button ? button.textContent : "";
  clearErrors(form);
  if (button) {
    button.disabled = true;
    button.textContent = busyLabel;
  }
  form.setAttribute("aria-busy", "true");
  try {
    return await task();
  } catch (exc) {
    showError(form, exc);
    return undefined;
  } finally {
    form.removeAttribute("aria-busy");
    if (button) {
      button.disabled = false;
      button.textContent = label;
    }
  }
}
