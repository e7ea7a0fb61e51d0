// Form plumbing shared by every page: values, field errors next to their input, busy buttons.
import { h } from "./dom.js";
import { ApiError, messageOf } from "./http.js";

/**
 * The form's fields as text (file inputs are not used in this UI).
 * @param {HTMLFormElement} form
 * @returns {Record<string, string>}
 */
export function values(form) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [name, value] of new FormData(form).entries()) out[name] = String(value);
  return out;
}

/** @param {HTMLFormElement} form */
export function clearErrors(form) {
  form.querySelectorAll(".field-error").forEach((node) => node.remove());
  form.querySelectorAll("[aria-invalid]").forEach((node) => {
    node.removeAttribute("aria-invalid");
    node.removeAttribute("aria-describedby");
  });
  const alert = form.querySelector(".form-alert");
  if (alert) alert.replaceChildren();
}

/**
 * Put `message` under the input named `field` (or in the form's alert when there is none).
 * @param {HTMLFormElement} form
 * @param {string | null} field
 * @param {string} message
 */
export function fieldError(form, field, message) {
  const name = field ? String(field).split(".").pop() : null;
  const input = name ? form.querySelector(`[name="${CSS.escape(name)}"]`) : null;
  if (!(input instanceof HTMLElement)) {
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

/**
 * Show an API error (or any error) on `form`, at its field when the API named one.
 * @param {HTMLFormElement} form
 * @param {unknown} exc
 */
export function showError(form, exc) {
  if (exc instanceof ApiError) fieldError(form, exc.field, exc.message);
  else fieldError(form, null, messageOf(exc));
}

/**
 * Run `task` with the submit button disabled and showing `busyLabel`; errors land on the form.
 * @template T
 * @param {HTMLFormElement} form
 * @param {string} busyLabel
 * @param {() => Promise<T>} task
 * @returns {Promise<T | undefined>}
 */
export async function submitting(form, busyLabel, task) {
  const button = form.querySelector("button[type=submit]");
  const label = button ? button.textContent : "";
  if (button && !(button instanceof HTMLButtonElement)) throw new Error("submit is not a button");
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
