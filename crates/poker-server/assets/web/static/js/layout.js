// What every logged-in page shares: the top bar (who is logged in, admin link, log out), the
// banner for problems that concern the whole page, and the "login expired" handling.

import { api, onUnauthorized, NetworkError } from "./api.js";
import { byId, h, replace, show, loginUrl } from "./dom.js";
import { t, translatePage } from "./i18n.js";

/** Shows a page-wide message (`kind`: `error`, `warning` or `info`) with optional nodes after it. */
export function showBanner(kind, text, ...extra) {
  const banner = byId("banner");
  banner.dataset.kind = kind;
  replace(banner, h("span", { class: "banner-text" }, text), ...extra);
  show(banner, true);
}

export function hideBanner() {
  show(byId("banner"), false);
}

/** The "your login has expired" banner, with a link back to the login page. */
export function showLoginExpired() {
  showBanner("error", t("login_expired"), " ",
    h("a", { href: loginUrl(), class: "button primary small", id: "login-again" }, t("login_again")));
  document.body.classList.add("expired");
}

/** At most this many toasts at once; the oldest goes first. */
const MAX_TOASTS = 3;

/** A short message at the bottom of the page (`kind`: `info`, `success` or `error`). */
export function toast(text, kind = "info") {
  const box = byId("toasts");
  const item = h("div", { class: "toast", dataset: { kind } }, text);
  box.append(item);
  while (box.children.length > MAX_TOASTS) box.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === "error" ? 6000 : 3500);
}

/** A message for an error thrown by the API module. */
export function errorText(error) {
  if (error instanceof NetworkError) return t("error_network");
  return error && error.message ? error.message : t("error_unexpected", { message: String(error) });
}

/**
 * Translates the page, fills the top bar and wires "log out". Resolves to the logged-in user
 * (`GET /api/auth/me`), or null when that failed (a banner then says why).
 */
export async function initLayout() {
  translatePage();
  onUnauthorized(showLoginExpired);
  const logout = document.getElementById("logout");
  logout?.addEventListener("click", async () => {
    logout.disabled = true;
    try {
      await api.logout();
    } catch {
      // Logged out already, or the server is away: the login page is the right place anyway.
    }
    location.assign("/login");
  });
  try {
    const me = await api.me();
    const whoami = document.getElementById("whoami");
    if (whoami) {
      whoami.textContent = me.username;
      whoami.title = t("logged_in_as", { name: me.username });
    }
    const admin = document.getElementById("nav-admin");
    if (admin) show(admin, me.permissions.includes("admin"));
    return me;
  } catch (e) {
    if (!(e.status === 401)) showBanner("error", errorText(e));
    return null;
  }
}
