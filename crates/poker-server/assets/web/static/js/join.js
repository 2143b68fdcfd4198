// The join page of an invite link (`/join/{token}`): says which session it leads to, takes a
// name, and lets the guest in (POST /api/invites/{token}/join), then on to the session.

import { api, ApiError } from "./api.js";
import { byId, show } from "./dom.js";
import { t, translatePage } from "./i18n.js";
import { errorText } from "./layout.js";

translatePage();
document.title = `${t("join_title")} — ${t("app_name")}`;

const token = decodeURIComponent(location.pathname.replace(/^\/join\//, ""));
const form = byId("join-form");
const errorBox = byId("join-error");
const submit = form.querySelector("button[type=submit]");

function fail(message) {
  errorBox.textContent = message;
  show(errorBox, true);
  byId("name").setAttribute("aria-invalid", "true");
  byId("name").focus();
}

async function main() {
  let invitation;
  try {
    invitation = await api.invitation(token);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      show(byId("join-gone"), true);
    } else {
      byId("join-intro").textContent = errorText(e);
    }
    return;
  }
  byId("join-intro").textContent = t(
    invitation.role === "voter" ? "join_intro_voter" : "join_intro_spectator",
    { name: invitation.session_name });
  // Who is logged in on this browser, as the server filled the page in.
  const { signedInAs, guestOf } = document.body.dataset;
  if (guestOf && Number(guestOf) === invitation.session_id) {
    // A guest of this very session (the link opened again): they are in already.
    location.replace(`/sessions/${invitation.session_id}`);
    return;
  }
  show(form, true);
  if (signedInAs && !guestOf) {
    // Joining as a guest would replace this browser's login: offer the account first.
    byId("join-signed-in-text").textContent = t("join_signed_in", { name: signedInAs });
    const self = byId("join-as-self");
    self.href = `/sessions/${invitation.session_id}`;
    show(byId("join-signed-in"), true);
    self.focus();
  } else {
    byId("name").focus();
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = byId("name").value.trim();
  if (!name) return fail(t("join_name_missing"));
  submit.disabled = true;
  try {
    const joined = await api.join(token, name);
    location.assign(`/sessions/${joined.session_id}`);
  } catch (e) {
    submit.disabled = false;
    if (e instanceof ApiError && e.status === 404) {
      show(form, false);
      show(byId("join-gone"), true);
    } else {
      fail(e instanceof ApiError ? e.message : errorText(e));
    }
  }
});

main();
