// The index: the open sessions (those with stories without points), newest first.

import { api } from "./api.js";
import { byId, formatDate, h, replace, show } from "./dom.js";
import { t, tn } from "./i18n.js";
import { initLayout, showBanner, errorText } from "./layout.js";

document.title = t("app_name");

/** A message a previous page left for this one (the session that just ended). */
function showFlash() {
  let flash = null;
  try {
    flash = JSON.parse(sessionStorage.getItem("flash") || "null");
    sessionStorage.removeItem("flash");
  } catch {
    return;
  }
  if (!flash || flash.kind !== "session_ended") return;
  const box = byId("flash");
  box.textContent = flash.name
    ? t("session_ended_flash", { name: flash.name })
    : t("session_ended_flash_unnamed");
  show(box, true);
}

async function main() {
  showFlash();
  const me = await initLayout();
  if (!me) return;
  const status = byId("sessions-status");
  let sessions;
  try {
    sessions = await api.openSessions();
  } catch (e) {
    status.textContent = "";
    if (e.status !== 401) showBanner("error", errorText(e));
    return;
  }
  const list = byId("sessions");
  if (sessions.length === 0) {
    replace(status, t("index_empty"), " ",
      me.permissions.includes("admin")
        ? h("a", { href: "/admin#sessions" }, t("index_empty_admin"))
        : null);
    return;
  }
  show(status, false);
  replace(list, sessions.map((s) =>
    h("li", { class: "session-item" },
      h("a", { href: `/sessions/${s.id}`, class: "session-link", dataset: { sessionId: s.id } },
        h("span", { class: "session-name" }, s.name),
        h("span", { class: "session-meta" },
          h("time", { datetime: s.poker_date }, formatDate(s.poker_date)),
          h("span", { class: "badge" }, tn("unpokered", s.unpokered_stories))),
        h("span", { class: "session-go", "aria-hidden": "true" }, "→")))));
}

main();
