// Every text the UI shows, in one place. To add a language, add a table with the same keys
// (missing keys fall back to English); the browser's preferred languages pick the table.
//
// Placeholders: {name} is replaced by the value of `name`. Keys ending in `_one`/`_other` are
// plural forms chosen by `count`.

const en = {
  app_name: "Planning Poker",
  skip_to_content: "Skip to content",
  nav_sessions: "Sessions",
  nav_admin: "Admin",
  logout: "Log out",
  logged_in_as: "Logged in as {name}",
  // The footer: which server process sent the page (replicas behind a balancer differ).
  served_by: "Served by",
  loading: "Loading…",
  retry: "Try again",
  back_to_sessions: "Back to the sessions",

  // Errors that can happen anywhere.
  error_network: "The server cannot be reached. Check your connection and try again.",
  error_unexpected: "Something went wrong: {message}",
  login_expired: "Your login has expired.",
  login_again: "Log in again",

  // Login page.
  login_title: "Log in",
  login_intro: "Log in to join a planning-poker session.",
  username: "Username",
  password: "Password",
  login_button: "Log in",
  logging_in: "Logging in…",
  login_failed: "Wrong username or password.",

  // Index page.
  index_title: "Open sessions",
  index_intro: "Sessions with stories still waiting for points.",
  index_empty: "There are no open sessions right now.",
  index_empty_admin: "Create one in the admin area.",
  unpokered_one: "{count} story to estimate",
  unpokered_other: "{count} stories to estimate",
  session_ended_flash: "The session “{name}” has ended.",
  session_ended_flash_unnamed: "The session has ended.",

  // Session page.
  session_title: "Session",
  conn_connecting: "Connecting…",
  conn_live: "Live",
  conn_reconnecting: "Reconnecting…",
  conn_offline: "Offline",
  conn_reconnecting_in: "Connection lost. Reconnecting in {seconds} s…",
  reconnect_now: "Reconnect now",
  session_gone: "This session does not exist (any more).",
  participants_one: "{count} here",
  participants_other: "{count} here",
  participants_title: "Who is here",
  participants_none: "Nobody is here yet.",
  you: "you",
  role_vote: "Voter",
  role_moderate: "Moderator",
  role_spectator: "Spectator",
  current_story: "Current story",
  no_active_story: "No story is being estimated right now.",
  no_active_story_moderator: "Pick a story from the list, or start with the first one without points.",
  start_session: "Start with the next story",
  no_description: "No description.",
  stories: "Stories",
  stories_progress: "{done} of {total} estimated",
  stories_empty: "This session has no stories yet.",
  story_now: "now",
  story_pick_hint: "Click a story to estimate it now.",
  no_points: "–",
  cards_title: "Your vote",
  cards_title_moderator: "Set the points",
  cards_hint_vote: "Pick a card. You can change it until the moderator sets the points.",
  cards_hint_moderate: "Pick the points for this story; the next story follows.",
  cards_hint_spectator: "You are watching: spectators do not vote.",
  card_vote_label: "Vote {option}",
  card_points_label: "Set {option} points and go to the next story",
  your_vote: "You voted {option}.",
  votes_title: "Votes",
  votes_none: "No votes yet.",
  votes_hidden: "Vote to see the others' cards.",
  votes_pick_hint: "Click a card to set its points.",
  votes_count_one: "{count} vote",
  votes_count_other: "{count} votes",
  voted_face_down: "{name} has voted",
  stat_average: "Average",
  stat_median: "Median",
  stat_agreed: "Everyone agreed",
  stat_not_agreed: "No agreement yet",
  set_points_from_vote: "Set {option} points and go to the next story",
  set_points: "Set points:",
  reset_votes: "Reset votes",
  next_story: "Skip to the next story",
  points_set: "{points} points set for {story}.",
  session_ended: "All stories are estimated. The session has ended.",
  server_error: "The server refused: {message}",

  // Admin page.
  admin_title: "Administration",
  admin_sessions: "Sessions",
  admin_users: "Users",
  admin_not_admin: "Only administrators can use this page.",
  session_name: "Name",
  session_date: "Date",
  session_deck: "Deck",
  session_open: "Open",
  session_unpokered: "Without points",
  deck_default: "Default (1 2 3 5 8 13 21 34)",
  deck_fibonacci: "Fibonacci (0 1 2 3 5 … 89)",
  deck_tshirt: "T-shirt sizes (XS … XXL)",
  deck_powers_of_two: "Powers of two (0 1 2 4 … 64)",
  deck_custom: "Custom…",
  deck_points: "Point options (comma-separated)",
  deck_others: "Other options (comma-separated)",
  secret_votes: "Voters see others' votes only after voting",
  create_session: "Create session",
  new_session: "New session",
  sessions_empty: "No sessions yet.",
  edit: "Edit",
  save: "Save",
  cancel: "Cancel",
  delete: "Delete",
  confirm_delete: "Really delete?",
  saved: "Saved.",
  created: "Created.",
  deleted: "Deleted.",
  manage_stories: "Stories",
  stories_of: "Stories of “{name}”",
  back_to_list: "All sessions",
  open_poker: "Open the poker page",
  ticket_number: "Ticket",
  story_title: "Title",
  description: "Description (HTML)",
  story_points: "Points",
  add_story: "Add story",
  new_story: "New story",
  move_up: "Move {label} up",
  move_down: "Move {label} down",
  import_title: "Import stories from CSV",
  import_hint: "One story per line: ticket_number,title,description. A header line is allowed.",
  import_file: "CSV file",
  import_text: "or paste CSV",
  import_button: "Import",
  imported_one: "{count} story imported.",
  imported_other: "{count} stories imported.",
  import_empty: "Choose a file or paste some CSV first.",
  story_no_points: "none",
  user_name: "Username",
  user_password: "Password",
  user_new_password: "New password (leave empty to keep)",
  can_vote: "Votes",
  can_moderate: "Moderates",
  is_admin: "Administrator",
  create_user: "Create user",
  new_user: "New user",
  users_empty: "No users yet.",
  yes: "yes",
  no: "no",
};

const de = {
  app_name: "Planning Poker",
  skip_to_content: "Zum Inhalt springen",
  nav_sessions: "Sitzungen",
  nav_admin: "Verwaltung",
  logout: "Abmelden",
  logged_in_as: "Angemeldet als {name}",
  served_by: "Ausgeliefert von",
  loading: "Wird geladen…",
  retry: "Erneut versuchen",
  back_to_sessions: "Zurück zu den Sitzungen",
  error_network: "Der Server ist nicht erreichbar. Bitte Verbindung prüfen und erneut versuchen.",
  error_unexpected: "Etwas ist schiefgegangen: {message}",
  login_expired: "Deine Anmeldung ist abgelaufen.",
  login_again: "Erneut anmelden",
  login_title: "Anmelden",
  login_intro: "Melde dich an, um an einer Planning-Poker-Sitzung teilzunehmen.",
  username: "Benutzername",
  password: "Passwort",
  login_button: "Anmelden",
  logging_in: "Anmeldung läuft…",
  login_failed: "Benutzername oder Passwort ist falsch.",
  index_title: "Offene Sitzungen",
  index_intro: "Sitzungen mit Stories, die noch keine Punkte haben.",
  index_empty: "Zurzeit gibt es keine offenen Sitzungen.",
  index_empty_admin: "Lege eine in der Verwaltung an.",
  unpokered_one: "{count} Story zu schätzen",
  unpokered_other: "{count} Stories zu schätzen",
  session_ended_flash: "Die Sitzung „{name}“ ist beendet.",
  session_ended_flash_unnamed: "Die Sitzung ist beendet.",
  session_title: "Sitzung",
  conn_connecting: "Verbinde…",
  conn_live: "Live",
  conn_reconnecting: "Verbinde erneut…",
  conn_offline: "Getrennt",
  conn_reconnecting_in: "Verbindung verloren. Neuer Versuch in {seconds} s…",
  reconnect_now: "Jetzt verbinden",
  session_gone: "Diese Sitzung gibt es nicht (mehr).",
  participants_one: "{count} anwesend",
  participants_other: "{count} anwesend",
  participants_title: "Wer ist da",
  participants_none: "Noch niemand da.",
  you: "du",
  role_vote: "Schätzt",
  role_moderate: "Moderiert",
  role_spectator: "Schaut zu",
  current_story: "Aktuelle Story",
  no_active_story: "Gerade wird keine Story geschätzt.",
  no_active_story_moderator: "Wähle eine Story aus der Liste oder beginne mit der ersten ohne Punkte.",
  start_session: "Mit der nächsten Story beginnen",
  no_description: "Keine Beschreibung.",
  stories: "Stories",
  stories_progress: "{done} von {total} geschätzt",
  stories_empty: "Diese Sitzung hat noch keine Stories.",
  story_now: "jetzt",
  story_pick_hint: "Klicke eine Story an, um sie jetzt zu schätzen.",
  no_points: "–",
  cards_title: "Deine Stimme",
  cards_title_moderator: "Punkte festlegen",
  cards_hint_vote: "Wähle eine Karte. Du kannst sie ändern, bis die Punkte feststehen.",
  cards_hint_moderate: "Wähle die Punkte für diese Story; danach folgt die nächste.",
  cards_hint_spectator: "Du schaust zu: Zuschauer stimmen nicht ab.",
  card_vote_label: "Für {option} stimmen",
  card_points_label: "{option} Punkte festlegen und zur nächsten Story",
  your_vote: "Du hast {option} gewählt.",
  votes_title: "Stimmen",
  votes_none: "Noch keine Stimmen.",
  votes_hidden: "Stimme ab, um die Karten der anderen zu sehen.",
  votes_pick_hint: "Klicke eine Karte an, um ihre Punkte festzulegen.",
  votes_count_one: "{count} Stimme",
  votes_count_other: "{count} Stimmen",
  voted_face_down: "{name} hat abgestimmt",
  stat_average: "Durchschnitt",
  stat_median: "Median",
  stat_agreed: "Alle sind sich einig",
  stat_not_agreed: "Noch keine Einigkeit",
  set_points_from_vote: "{option} Punkte festlegen und zur nächsten Story",
  set_points: "Punkte:",
  reset_votes: "Stimmen zurücksetzen",
  next_story: "Zur nächsten Story springen",
  points_set: "{points} Punkte für {story} festgelegt.",
  session_ended: "Alle Stories sind geschätzt. Die Sitzung ist beendet.",
  server_error: "Der Server lehnt ab: {message}",
  admin_title: "Verwaltung",
  admin_sessions: "Sitzungen",
  admin_users: "Benutzer",
  admin_not_admin: "Nur Administratoren können diese Seite nutzen.",
  session_name: "Name",
  session_date: "Datum",
  session_deck: "Kartensatz",
  session_open: "Öffnen",
  session_unpokered: "Ohne Punkte",
  deck_default: "Standard (1 2 3 5 8 13 21 34)",
  deck_fibonacci: "Fibonacci (0 1 2 3 5 … 89)",
  deck_tshirt: "T-Shirt-Größen (XS … XXL)",
  deck_powers_of_two: "Zweierpotenzen (0 1 2 4 … 64)",
  deck_custom: "Eigener…",
  deck_points: "Punktwerte (durch Kommas getrennt)",
  deck_others: "Weitere Karten (durch Kommas getrennt)",
  secret_votes: "Stimmen erst nach eigener Abstimmung sichtbar",
  create_session: "Sitzung anlegen",
  new_session: "Neue Sitzung",
  sessions_empty: "Noch keine Sitzungen.",
  edit: "Bearbeiten",
  save: "Speichern",
  cancel: "Abbrechen",
  delete: "Löschen",
  confirm_delete: "Wirklich löschen?",
  saved: "Gespeichert.",
  created: "Angelegt.",
  deleted: "Gelöscht.",
  manage_stories: "Stories",
  stories_of: "Stories von „{name}“",
  back_to_list: "Alle Sitzungen",
  open_poker: "Poker-Seite öffnen",
  ticket_number: "Ticket",
  story_title: "Titel",
  description: "Beschreibung (HTML)",
  story_points: "Punkte",
  add_story: "Story hinzufügen",
  new_story: "Neue Story",
  move_up: "{label} nach oben",
  move_down: "{label} nach unten",
  import_title: "Stories aus CSV importieren",
  import_hint: "Eine Story pro Zeile: ticket_number,title,description. Eine Kopfzeile ist erlaubt.",
  import_file: "CSV-Datei",
  import_text: "oder CSV einfügen",
  import_button: "Importieren",
  imported_one: "{count} Story importiert.",
  imported_other: "{count} Stories importiert.",
  import_empty: "Wähle zuerst eine Datei oder füge CSV ein.",
  story_no_points: "keine",
  user_name: "Benutzername",
  user_password: "Passwort",
  user_new_password: "Neues Passwort (leer lassen, um es zu behalten)",
  can_vote: "Schätzt",
  can_moderate: "Moderiert",
  is_admin: "Administrator",
  create_user: "Benutzer anlegen",
  new_user: "Neuer Benutzer",
  users_empty: "Noch keine Benutzer.",
  yes: "ja",
  no: "nein",
};

const tables = { en, de };

/** The first of the browser's preferred languages we have a table for; English otherwise. */
function pickLanguage() {
  const preferred = navigator.languages && navigator.languages.length
    ? navigator.languages
    : [navigator.language || "en"];
  for (const tag of preferred) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (tables[base]) return base;
  }
  return "en";
}

export const lang = pickLanguage();
const table = tables[lang];

/** The text for `key` in the page's language, with `{placeholders}` filled from `params`. */
export function t(key, params = {}) {
  let text = table[key] ?? en[key];
  if (text === undefined) {
    console.warn(`i18n: no text for ${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    name in params ? String(params[name]) : whole);
}

/** A plural text: `key_one` for a count of 1, `key_other` otherwise. */
export function tn(key, count, params = {}) {
  const form = new Intl.PluralRules(lang).select(count) === "one" ? "one" : "other";
  return t(`${key}_${form}`, { ...params, count });
}

/** Fills every `[data-i18n]` element's text (and `data-i18n-*` attributes) under `root`. */
export function translatePage(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  }
  for (const el of root.querySelectorAll("[data-i18n-title]")) {
    el.title = t(el.dataset.i18nTitle);
  }
}
