// Small DOM helpers. Text always goes in through textContent; the only HTML the UI inserts is a
// story description, which the server sanitized (see session.js).

/**
 * Creates an element: `h("button", {class: "card", onclick: fn, "aria-label": "…"}, "text", child)`.
 * Attributes starting with `on` become event listeners; `class` and `dataset` are handled;
 * `false`/`null`/`undefined` attributes are left out; children are nodes or text.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "text") {
      el.textContent = value;
    } else if (value === true) {
      el.setAttribute(name, "");
    } else if (name in el && typeof el[name] !== "function" && !name.includes("-")) {
      el[name] = value;
    } else {
      el.setAttribute(name, value);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** `document.getElementById`, failing loudly when the page lacks the element. */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

/** Shows or hides an element (the `hidden` attribute). */
export function show(el, visible) {
  el.hidden = !visible;
}

/**
 * A path within this site to go to after logging in: only same-origin paths ("/…", not "//…"),
 * so a crafted link cannot send someone elsewhere.
 */
export function safeNext(value, fallback = "/") {
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//")
      || value.startsWith("/\\")) {
    return fallback;
  }
  return value;
}

/** The login page's address, coming back to the current page afterwards. */
export function loginUrl() {
  const next = location.pathname + location.search + location.hash;
  return `/login?next=${encodeURIComponent(next)}`;
}

/** `2025-03-14` in the reader's format. */
export function formatDate(iso) {
  const [y, m, d] = String(iso).split("-").map(Number);
  if (!y || !m || !d) return String(iso);
  return new Date(y, m - 1, d).toLocaleDateString(undefined,
    { year: "numeric", month: "short", day: "numeric" });
}
