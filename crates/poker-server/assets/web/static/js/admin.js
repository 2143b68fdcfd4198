// The admin area, on the REST API: sessions (create, edit, delete), a session's stories (add,
// edit, delete, reorder, import CSV) and users (create, edit, delete).
//
// Views by address: #sessions (default), #session/ID (its stories), #users, #webhooks and
// #webhook/ID (its deliveries).

import { api, ApiError } from "./api.js";
import { byId, formatDate, h, replace } from "./dom.js";
import { t, tn } from "./i18n.js";
import { initLayout, errorText, toast } from "./layout.js";

document.title = `${t("admin_title")} — ${t("app_name")}`;

const content = byId("admin-content");
const DECKS = ["default", "fibonacci", "tshirt", "powers_of_two"];

// ---------------------------------------------------------------------------------------------
// Helpers

let idCounter = 0;

/** A labelled input; `input` gets an id and `name`; returns the wrapper. */
function field(label, input, { check = false } = {}) {
  idCounter += 1;
  input.id = input.id || `f${idCounter}-${input.name}`;
  const errorSlot = h("p", { class: "field-error", dataset: { errorFor: input.name }, hidden: true });
  const labelEl = h("label", { for: input.id }, label);
  return check
    ? h("div", { class: "field check" }, input, labelEl)
    : h("div", { class: "field" }, labelEl, input, errorSlot);
}

function input(name, attrs = {}) {
  return h("input", { name, ...attrs });
}

function checkbox(name, checked) {
  return h("input", { type: "checkbox", name, checked: !!checked });
}

/** A form with the given children, an error line and the action buttons. */
function form(attrs, children, actions) {
  return h("form", { class: "form", novalidate: true, ...attrs },
    children,
    h("p", { class: "form-error", role: "alert", hidden: true }),
    h("div", { class: "form-actions" }, actions));
}

function clearErrors(formEl) {
  for (const el of formEl.querySelectorAll(".field-error, .form-error")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of formEl.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/** Shows an API error next to its field (when the form has it), else under the form. */
function showError(formEl, error) {
  clearErrors(formEl);
  const message = errorText(error);
  const fieldName = error instanceof ApiError ? error.field : null;
  const slot = fieldName ? formEl.querySelector(`[data-error-for="${CSS.escape(fieldName)}"]`) : null;
  if (slot) {
    slot.textContent = message;
    slot.hidden = false;
    const inputEl = formEl.elements.namedItem(fieldName);
    if (inputEl && inputEl.setAttribute) {
      inputEl.setAttribute("aria-invalid", "true");
      inputEl.focus();
    }
    return;
  }
  const general = formEl.querySelector(".form-error");
  general.textContent = message;
  general.hidden = false;
}

/** Runs `action` for a submitted form, disabling its buttons meanwhile. */
function onSubmit(formEl, action) {
  formEl.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(formEl);
    const buttons = [...formEl.querySelectorAll("button")];
    for (const b of buttons) b.disabled = true;
    try {
      await action(formEl);
    } catch (e) {
      showError(formEl, e);
    } finally {
      for (const b of buttons) if (b.isConnected) b.disabled = false;
    }
  });
  return formEl;
}

/** A delete button that asks once more ("Really delete?") before calling `action`. */
function deleteButton(label, action) {
  let armed = null;
  const button = h("button", {
    type: "button",
    class: "button small danger",
    "aria-label": `${t("delete")}: ${label}`,
  }, t("delete"));
  button.addEventListener("click", async () => {
    if (!armed) {
      button.textContent = t("confirm_delete");
      button.classList.add("armed");
      armed = setTimeout(() => {
        armed = null;
        button.textContent = t("delete");
        button.classList.remove("armed");
      }, 4000);
      return;
    }
    clearTimeout(armed);
    button.disabled = true;
    try {
      await action();
      toast(t("deleted"), "success");
    } catch (e) {
      toast(errorText(e), "error");
      button.disabled = false;
    }
  });
  return button;
}

function today() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function splitList(text) {
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}

function loadFailed(e) {
  replace(content, h("p", { class: "form-error" }, errorText(e)));
}

// ---------------------------------------------------------------------------------------------
// Sessions

async function sessionsView() {
  const sessions = await api.sessions();
  const rows = sessions.map((s) => sessionRow(s));
  const table = sessions.length
    ? h("div", { class: "table-wrap" }, h("table", { class: "data collapse", id: "sessions-table" },
      h("thead", {}, h("tr", {},
        h("th", {}, t("session_name")), h("th", {}, t("session_date")),
        h("th", {}, t("session_unpokered")), h("th", {}))),
      h("tbody", {}, rows)))
    : h("p", { class: "muted" }, t("sessions_empty"));
  replace(content, h("div", { class: "admin-grid" },
    h("section", { class: "panel", "aria-labelledby": "sessions-heading" },
      h("div", { class: "section-head" }, h("h2", { id: "sessions-heading" }, t("admin_sessions"))),
      table),
    h("section", { class: "panel", "aria-labelledby": "new-session-heading" },
      h("h2", { id: "new-session-heading" }, t("new_session")),
      newSessionForm())));
}

function sessionRow(s) {
  const row = h("tr", { dataset: { sessionId: s.id } },
    h("td", {}, h("a", { href: `#session/${s.id}`, class: "cell-main" }, s.name)),
    h("td", {}, h("time", { datetime: s.poker_date }, formatDate(s.poker_date))),
    h("td", { class: "num" }, String(s.unpokered_stories ?? "")),
    h("td", { class: "actions" },
      h("a", { href: `#session/${s.id}`, class: "button small" }, t("manage_stories")),
      h("a", { href: `/sessions/${s.id}`, class: "button small" }, t("session_open")),
      h("button", {
        type: "button", class: "button small edit", onclick: () => editSession(row, s),
      }, t("edit")),
      deleteButton(s.name, async () => {
        await api.deleteSession(s.id);
        row.remove();
      })));
  return row;
}

/** The session's reveal rule as a select named `reveal`. */
function revealSelect(current) {
  return h("select", { name: "reveal" }, ["after_own_vote", "moderator"].map((rule) =>
    h("option", { value: rule, selected: rule === current }, t(`reveal_${rule}`))));
}

function editSession(row, s) {
  const cell = h("td", { colspan: 4 });
  const editForm = onSubmit(form({ class: "form inline-form" }, [
    h("div", { class: "row" },
      field(t("session_name"), input("name", { value: s.name, required: true, maxLength: 200 })),
      field(t("session_date"), input("poker_date", { type: "date", value: s.poker_date, required: true }))),
    field(t("secret_votes"), checkbox("secret_votes", s.secret_votes), { check: true }),
    field(t("session_reveal"), revealSelect(s.reveal)),
    field(t("auto_reveal"), checkbox("auto_reveal", s.auto_reveal), { check: true }),
  ], [
    h("button", { type: "submit", class: "button primary small" }, t("save")),
    h("button", { type: "button", class: "button small", onclick: () => route() }, t("cancel")),
  ]), async (f) => {
    await api.updateSession(s.id, {
      name: f.elements.name.value.trim(),
      poker_date: f.elements.poker_date.value,
      secret_votes: f.elements.secret_votes.checked,
      reveal: f.elements.reveal.value,
      auto_reveal: f.elements.auto_reveal.checked,
    });
    toast(t("saved"), "success");
    await route();
  });
  replace(row, replace(cell, editForm));
  editForm.elements.name.focus();
}

function newSessionForm() {
  const deckSelect = h("select", { name: "deck" },
    DECKS.map((d) => h("option", { value: d }, t(`deck_${d}`))),
    h("option", { value: "custom" }, t("deck_custom")));
  const custom = h("div", { class: "form", hidden: true },
    field(t("deck_points"), input("deck_points", { placeholder: "1, 2, 3, 5, 8" })),
    field(t("deck_others"), input("deck_others", { placeholder: "?, ☕" })));
  deckSelect.addEventListener("change", () => { custom.hidden = deckSelect.value !== "custom"; });
  const formEl = form({ id: "new-session-form" }, [
    field(t("session_name"), input("name", { required: true, maxLength: 200, autocomplete: "off" })),
    field(t("session_date"), input("poker_date", { type: "date", value: today(), required: true })),
    field(t("session_deck"), deckSelect),
    custom,
    field(t("session_reveal"), revealSelect("after_own_vote")),
    field(t("auto_reveal"), checkbox("auto_reveal", true), { check: true }),
  ], [h("button", { type: "submit", class: "button primary" }, t("create_session"))]);
  return onSubmit(formEl, async (f) => {
    const deck = f.elements.deck.value === "custom"
      ? { points: splitList(f.elements.deck_points.value), others: splitList(f.elements.deck_others.value) }
      : f.elements.deck.value;
    const created = await api.createSession({
      name: f.elements.name.value.trim(),
      poker_date: f.elements.poker_date.value,
      deck,
      reveal: f.elements.reveal.value,
      auto_reveal: f.elements.auto_reveal.checked,
    });
    toast(t("created"), "success");
    location.hash = `#session/${created.id}`;
  });
}

// ---------------------------------------------------------------------------------------------
// A session's stories

async function storiesView(id) {
  const session = await api.session(id);
  const stories = session.stories || [];
  const list = stories.length
    ? h("div", { class: "table-wrap" }, h("table", { class: "data collapse", id: "stories-table" },
      h("thead", {}, h("tr", {},
        h("th", {}, "#"), h("th", {}, t("ticket_number")), h("th", {}, t("story_title")),
        h("th", {}, t("story_points")), h("th", {}))),
      h("tbody", {}, stories.map((story, index) => storyRow(session, stories, story, index)))))
    : h("p", { class: "muted", id: "stories-empty" }, t("stories_empty"));
  replace(content,
    h("div", { class: "section-head" },
      h("h2", { id: "stories-heading" }, t("stories_of", { name: session.name })),
      h("div", { class: "form-actions" },
        h("a", { href: "#sessions", class: "button small" }, `← ${t("back_to_list")}`),
        h("a", { href: `/sessions/${session.id}`, class: "button small primary", id: "open-poker" },
          t("open_poker")))),
    h("div", { class: "admin-grid" },
      h("section", { class: "panel", "aria-labelledby": "stories-heading" }, list),
      h("div", { class: "stack" },
        h("section", { class: "panel", "aria-labelledby": "new-story-heading" },
          h("h2", { id: "new-story-heading" }, t("new_story")),
          newStoryForm(session)),
        h("section", { class: "panel", "aria-labelledby": "import-heading" },
          h("h2", { id: "import-heading" }, t("import_title")),
          importForm(session)))));
}

function storyRow(session, stories, story, index) {
  const ids = stories.map((s) => s.id);
  const move = async (delta) => {
    const order = [...ids];
    const [moved] = order.splice(index, 1);
    order.splice(index + delta, 0, moved);
    try {
      await api.reorderStories(session.id, order);
      await route();
      // Keep the keyboard where it was: on the same button of the moved story.
      const selector = `tr[data-story-id="${story.id}"] .move-${delta < 0 ? "up" : "down"}`;
      const again = document.querySelector(selector);
      (again && !again.disabled ? again : document.querySelector(`tr[data-story-id="${story.id}"] .move`))?.focus();
    } catch (e) {
      toast(errorText(e), "error");
    }
  };
  const hasPoints = story.story_points !== null && story.story_points !== undefined;
  const row = h("tr", { dataset: { storyId: story.id } },
    h("td", { class: "num" }, String(index + 1)),
    h("td", { class: "cell-main" }, story.ticket_number),
    h("td", {}, story.title),
    h("td", {}, hasPoints ? h("span", { class: "badge" }, String(story.story_points)) : ""),
    h("td", { class: "actions" },
      h("button", {
        type: "button", class: "button small move move-up", disabled: index === 0,
        "aria-label": t("move_up", { label: story.label }), title: t("move_up", { label: story.label }),
        onclick: () => move(-1),
      }, "↑"),
      h("button", {
        type: "button", class: "button small move move-down", disabled: index === stories.length - 1,
        "aria-label": t("move_down", { label: story.label }), title: t("move_down", { label: story.label }),
        onclick: () => move(1),
      }, "↓"),
      h("button", { type: "button", class: "button small edit", onclick: () => editStory(row, session, story) },
        t("edit")),
      deleteButton(story.label, async () => {
        await api.deleteStory(story.id);
        await route();
      })));
  return row;
}

function editStory(row, session, story) {
  const pointsSelect = h("select", { name: "story_points" },
    h("option", { value: "" }, t("story_no_points")),
    session.deck.points.map((p) => h("option", {
      value: p, selected: story.story_points !== null && String(story.story_points) === String(p),
    }, p)));
  const editForm = onSubmit(form({ class: "form inline-form" }, [
    h("div", { class: "row" },
      field(t("ticket_number"), input("ticket_number", { value: story.ticket_number, required: true, maxLength: 200 })),
      field(t("story_title"), input("title", { value: story.title, maxLength: 200 })),
      field(t("story_points"), pointsSelect)),
    field(t("description"), h("textarea", { name: "description", rows: 4 }, story.description)),
  ], [
    h("button", { type: "submit", class: "button primary small" }, t("save")),
    h("button", { type: "button", class: "button small", onclick: () => route() }, t("cancel")),
  ]), async (f) => {
    const points = f.elements.story_points.value;
    await api.updateStory(story.id, {
      ticket_number: f.elements.ticket_number.value.trim(),
      title: f.elements.title.value.trim(),
      description: f.elements.description.value,
      story_points: points === "" ? null : points,
    });
    toast(t("saved"), "success");
    await route();
  });
  replace(row, h("td", { colspan: 5 }, editForm));
  editForm.elements.ticket_number.focus();
}

function newStoryForm(session) {
  const formEl = form({ id: "new-story-form" }, [
    field(t("ticket_number"), input("ticket_number", { required: true, maxLength: 200, autocomplete: "off" })),
    field(t("story_title"), input("title", { maxLength: 200, autocomplete: "off" })),
    field(t("description"), h("textarea", { name: "description", rows: 3 })),
  ], [h("button", { type: "submit", class: "button primary" }, t("add_story"))]);
  return onSubmit(formEl, async (f) => {
    await api.createStory(session.id, {
      ticket_number: f.elements.ticket_number.value.trim(),
      title: f.elements.title.value.trim(),
      description: f.elements.description.value,
    });
    toast(t("created"), "success");
    await route();
    document.querySelector("#new-story-form [name=ticket_number]")?.focus();
  });
}

function importForm(session) {
  const result = h("p", { class: "form-ok", id: "import-result", role: "status", hidden: true });
  const formEl = form({ id: "import-form" }, [
    h("p", { class: "hint" }, t("import_hint")),
    field(t("import_file"), input("file", { type: "file", accept: ".csv,text/csv,text/plain" })),
    field(t("import_text"), h("textarea", {
      name: "csv", rows: 4,
      placeholder: "SHOP-1,Guest checkout,<p>No account needed</p>",
    })),
    result,
  ], [h("button", { type: "submit", class: "button primary" }, t("import_button"))]);
  return onSubmit(formEl, async (f) => {
    const file = f.elements.file.files[0];
    const csv = file ? await file.text() : f.elements.csv.value;
    if (!csv.trim()) throw new Error(t("import_empty"));
    const created = await api.importStories(session.id, csv);
    const count = Array.isArray(created) ? created.length : 0;
    await route();
    const again = document.getElementById("import-result");
    if (again) {
      again.textContent = tn("imported", count);
      again.hidden = false;
    }
    toast(tn("imported", count), "success");
  });
}

// ---------------------------------------------------------------------------------------------
// Users

async function usersView(me) {
  const users = await api.users();
  replace(content, h("div", { class: "admin-grid" },
    h("section", { class: "panel", "aria-labelledby": "users-heading" },
      h("div", { class: "section-head" }, h("h2", { id: "users-heading" }, t("admin_users"))),
      users.length
        ? h("div", { class: "table-wrap" }, h("table", { class: "data collapse", id: "users-table" },
          h("thead", {}, h("tr", {},
            h("th", {}, t("user_name")), h("th", {}, t("can_vote")), h("th", {}, t("can_moderate")),
            h("th", {}, t("is_admin")), h("th", {}))),
          h("tbody", {}, users.map((u) => userRow(u, me)))))
        : h("p", { class: "muted" }, t("users_empty"))),
    h("section", { class: "panel", "aria-labelledby": "new-user-heading" },
      h("h2", { id: "new-user-heading" }, t("new_user")),
      newUserForm())));
}

function yesNo(value) {
  return h("span", { class: ["badge", value && "yes"], "aria-label": value ? t("yes") : t("no") },
    value ? "✓" : "–");
}

function userRow(u, me) {
  const row = h("tr", { dataset: { userId: u.id } },
    h("td", { class: "cell-main" }, u.username),
    h("td", {}, yesNo(u.can_vote)),
    h("td", {}, yesNo(u.can_moderate)),
    h("td", {}, yesNo(u.is_admin)),
    h("td", { class: "actions" },
      h("button", { type: "button", class: "button small edit", onclick: () => editUser(row, u) }, t("edit")),
      u.id === me.id ? null : deleteButton(u.username, async () => {
        await api.deleteUser(u.id);
        row.remove();
      })));
  return row;
}

function editUser(row, u) {
  const editForm = onSubmit(form({ class: "form inline-form" }, [
    h("div", { class: "row" },
      field(t("user_name"), input("username", { value: u.username, required: true, maxLength: 150 })),
      field(t("user_new_password"), input("password", { type: "password", autocomplete: "new-password" }))),
    h("div", { class: "row" },
      field(t("can_vote"), checkbox("can_vote", u.can_vote), { check: true }),
      field(t("can_moderate"), checkbox("can_moderate", u.can_moderate), { check: true }),
      field(t("is_admin"), checkbox("is_admin", u.is_admin), { check: true })),
  ], [
    h("button", { type: "submit", class: "button primary small" }, t("save")),
    h("button", { type: "button", class: "button small", onclick: () => route() }, t("cancel")),
  ]), async (f) => {
    const body = {
      username: f.elements.username.value.trim(),
      can_vote: f.elements.can_vote.checked,
      can_moderate: f.elements.can_moderate.checked,
      is_admin: f.elements.is_admin.checked,
    };
    if (f.elements.password.value) body.password = f.elements.password.value;
    await api.updateUser(u.id, body);
    toast(t("saved"), "success");
    await route();
  });
  replace(row, h("td", { colspan: 5 }, editForm));
  editForm.elements.username.focus();
}

function newUserForm() {
  const formEl = form({ id: "new-user-form" }, [
    field(t("user_name"), input("username", { required: true, maxLength: 150, autocomplete: "off" })),
    field(t("user_password"), input("password", { type: "password", required: true, autocomplete: "new-password" })),
    field(t("can_vote"), checkbox("can_vote", true), { check: true }),
    field(t("can_moderate"), checkbox("can_moderate", false), { check: true }),
    field(t("is_admin"), checkbox("is_admin", false), { check: true }),
  ], [h("button", { type: "submit", class: "button primary" }, t("create_user"))]);
  return onSubmit(formEl, async (f) => {
    await api.createUser({
      username: f.elements.username.value.trim(),
      password: f.elements.password.value,
      can_vote: f.elements.can_vote.checked,
      can_moderate: f.elements.can_moderate.checked,
      is_admin: f.elements.is_admin.checked,
    });
    toast(t("created"), "success");
    await route();
    document.querySelector("#new-user-form [name=username]")?.focus();
  });
}

// ---------------------------------------------------------------------------------------------
// Webhooks: URLs that hear of a session's events (or every session's), signed; their deliveries.

async function webhooksView() {
  const [hooks, sessions] = await Promise.all([api.webhooks(), api.sessions()]);
  const names = new Map(sessions.map((s) => [s.id, s.name]));
  const scope = (hook) => (hook.session_id === null || hook.session_id === undefined
    ? t("webhook_all_sessions")
    : names.get(hook.session_id) || `#${hook.session_id}`);
  replace(content, h("div", { class: "admin-grid" },
    h("section", { class: "panel", "aria-labelledby": "webhooks-heading" },
      h("div", { class: "section-head" }, h("h2", { id: "webhooks-heading" }, t("admin_webhooks"))),
      hooks.length
        ? h("div", { class: "table-wrap" }, h("table", { class: "data collapse", id: "webhooks-table" },
          h("thead", {}, h("tr", {},
            h("th", {}, t("webhook_url")), h("th", {}, t("webhook_scope")), h("th", {}))),
          h("tbody", {}, hooks.map((hook) => {
            const row = h("tr", { dataset: { webhookId: hook.id } },
              h("td", { class: "cell-main" }, hook.url),
              h("td", {}, scope(hook)),
              h("td", { class: "actions" },
                h("a", { href: `#webhook/${hook.id}`, class: "button small deliveries" }, t("webhook_deliveries")),
                deleteButton(hook.url, async () => {
                  await api.deleteWebhook(hook.id);
                  row.remove();
                })));
            return row;
          }))))
        : h("p", { class: "muted", id: "webhooks-empty" }, t("webhooks_empty"))),
    h("section", { class: "panel", "aria-labelledby": "new-webhook-heading" },
      h("h2", { id: "new-webhook-heading" }, t("new_webhook")),
      newWebhookForm(sessions))));
}

function newWebhookForm(sessions) {
  const sessionSelect = h("select", { name: "session_id" },
    h("option", { value: "" }, t("webhook_all_sessions")),
    sessions.map((s) => h("option", { value: String(s.id) }, s.name)));
  const formEl = form({ id: "new-webhook-form" }, [
    field(t("webhook_url"), input("url", { type: "url", required: true, placeholder: "http://hooks.example/poker" })),
    field(t("webhook_scope"), sessionSelect),
    field(t("webhook_secret"), input("secret", { autocomplete: "off" })),
  ], [h("button", { type: "submit", class: "button primary" }, t("create_webhook"))]);
  return onSubmit(formEl, async (f) => {
    const body = { url: f.elements.url.value.trim() };
    if (f.elements.session_id.value) body.session_id = Number(f.elements.session_id.value);
    if (f.elements.secret.value) body.secret = f.elements.secret.value;
    const created = await api.createWebhook(body);
    await route();
    if (created.secret && !body.secret) {
      // Shown this once: the server never answers it again.
      byId("new-webhook-heading").after(h("p", { class: "note", id: "webhook-secret" },
        t("webhook_secret_once", { secret: created.secret })));
    }
    toast(t("created"), "success");
  });
}

async function deliveriesView(id) {
  const deliveries = await api.deliveries(id);
  const format = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });
  const when = (text) => format.format(new Date(text));
  replace(content, h("section", { class: "panel", "aria-labelledby": "deliveries-heading" },
    h("div", { class: "section-head" },
      h("h2", { id: "deliveries-heading" }, t("webhook_deliveries")),
      h("a", { href: "#webhooks", class: "button small" }, `← ${t("admin_webhooks")}`)),
    deliveries.length
      ? h("div", { class: "table-wrap" }, h("table", { class: "data collapse", id: "deliveries-table" },
        h("thead", {}, h("tr", {},
          h("th", {}, t("delivery_event")), h("th", {}, t("delivery_status")),
          h("th", {}, t("delivery_attempts")), h("th", {}, t("delivery_answer")), h("th", {}, t("delivery_time")))),
        h("tbody", {}, deliveries.map((d) => h("tr", { dataset: { status: d.status } },
          h("td", { class: "cell-main" }, d.event),
          h("td", {}, h("span", { class: ["badge", "delivery", d.status] }, t(`delivery_${d.status}`))),
          h("td", {}, String(d.attempts)),
          h("td", {}, d.status_code !== null && d.status_code !== undefined ? String(d.status_code) : (d.error || "–")),
          h("td", {}, when(d.updated_at)))))))
      : h("p", { class: "muted", id: "deliveries-empty" }, t("deliveries_empty"))));
}

// ---------------------------------------------------------------------------------------------
// Routing

let me = null;

async function route() {
  const hash = location.hash || "#sessions";
  const storyMatch = hash.match(/^#session\/(\d+)$/);
  const hookMatch = hash.match(/^#webhook\/(\d+)$/);
  const tab = hash === "#users" ? "users"
    : hash === "#webhooks" || hookMatch ? "webhooks" : "sessions";
  for (const name of ["sessions", "users", "webhooks"]) {
    const el = byId(`tab-${name}`);
    if (name === tab) el.setAttribute("aria-current", "page");
    else el.removeAttribute("aria-current");
  }
  try {
    if (storyMatch) await storiesView(Number(storyMatch[1]));
    else if (hookMatch) await deliveriesView(Number(hookMatch[1]));
    else if (tab === "webhooks") await webhooksView();
    else if (tab === "users") await usersView(me);
    else await sessionsView();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) loadFailed(e);
  }
}

async function main() {
  me = await initLayout();
  if (!me) {
    replace(content);
    return;
  }
  if (!me.permissions.includes("admin")) {
    replace(content, h("p", { class: "form-error" }, t("admin_not_admin")));
    return;
  }
  byId("admin-tabs").hidden = false;
  window.addEventListener("hashchange", route);
  await route();
}

main();
