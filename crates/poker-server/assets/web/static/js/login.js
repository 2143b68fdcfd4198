// The login page: POST /api/auth/login, then on to `?next=` (a path on this site) or the index.

import { api, ApiError } from "./api.js";
import { byId, safeNext, show } from "./dom.js";
import { t, translatePage } from "./i18n.js";
import { errorText } from "./layout.js";

translatePage();
document.title = `${t("login_title")} — ${t("app_name")}`;

const form = byId("login-form");
const errorBox = byId("login-error");
const submit = form.querySelector("button[type=submit]");

function fail(message, field) {
  errorBox.textContent = message;
  show(errorBox, true);
  const input = field ? document.getElementById(field) : null;
  for (const el of form.querySelectorAll("input")) el.removeAttribute("aria-invalid");
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const username = byId("username").value.trim();
  const password = byId("password").value;
  if (!username) return fail(t("login_failed"), "username");
  if (!password) return fail(t("login_failed"), "password");
  submit.disabled = true;
  submit.textContent = t("logging_in");
  try {
    await api.login(username, password);
    const next = new URLSearchParams(location.search).get("next");
    location.assign(safeNext(next));
  } catch (e) {
    submit.disabled = false;
    submit.textContent = t("login_button");
    if (e instanceof ApiError && e.status === 401) {
      fail(t("login_failed"), "password");
      byId("password").select();
    } else if (e instanceof ApiError && e.field) {
      fail(e.message, e.field);
    } else {
      fail(errorText(e));
    }
  }
});
