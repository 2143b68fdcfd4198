// The poker session page: current story, stories overview, voting cards, votes overview and
// participants, kept live over the session's WebSocket (socket.js).
//
// Only one thing is inserted as HTML: the story description, which the server sanitized when
// it was written (PROTOCOL.md section 1). Every other text goes in through textContent.

import { api, ApiError } from "./api.js";
import { byId, h, replace, show } from "./dom.js";
import { t, tn } from "./i18n.js";
import {
  initLayout, showBanner, hideBanner, showLoginExpired, errorText, toast,
} from "./layout.js";
import { PokerSocket } from "./socket.js";
import { voteGroups, myVote, voteStats, formatNumber } from "./votes.js";

const sessionId = Number(location.pathname.match(/^\/sessions\/(\d+)/)?.[1]);

const state = {
  me: null,
  canVote: false,
  canModerate: false,
  /** `GET /api/sessions/{id}` (name, deck, …). */
  session: null,
  /** `[{id, label, story_points}]` in order. */
  stories: [],
  /** The last `story_changed` data, or null when no story is active. */
  story: null,
  participants: [],
  connected: false,
  /** The card just clicked, until the server confirms the vote. */
  pendingVote: null,
  /** Points were sent for the active story; wait for the next story before sending again. */
  pointsSent: false,
  /** The deck and mode the card buttons were built for. */
  cardsKey: "",
  pointsKey: "",
  ended: false,
  /** The running countdown: `{endsAt}` in this browser's clock (ms), or null. */
  timer: null,
};

let socket = null;

// ---------------------------------------------------------------------------------------------
// Small pieces

function pointsText(points) {
  return points === null || points === undefined ? t("no_points") : String(points);
}

/** An option as the page shows it: a preset deck's "Too large" and "No idea" in the page's
 * language (the server names their keys), any other option as it was typed. */
function optionLabel(option) {
  const key = state.session?.deck?.label_keys?.[option];
  return key ? t(`deck_option_${key}`) : String(option);
}

function deckOptions() {
  const deck = state.session?.deck || { points: [], others: [] };
  return { points: deck.points.map(String), others: deck.others.map(String) };
}

function currentVote() {
  if (!state.story) return null;
  return state.pendingVote ?? myVote(state.story.votes, state.me.id);
}

/** Whether the user said they do not vote on the active story. */
function abstained() {
  return !!state.story && (state.story.abstained || []).some((p) => p.id === state.me.id);
}

/** Whether the session shows votes only when the moderator (or the server) reveals them. */
function moderatorReveals() {
  return state.session?.reveal === "moderator";
}

// ---------------------------------------------------------------------------------------------
// Actions

function vote(option) {
  if (!state.story || !state.connected) return;
  state.pendingVote = option;
  socket.send("vote_submitted", { choice: option });
  renderCards();
}

function abstain() {
  if (!state.story || !state.connected || abstained()) return;
  state.pendingVote = null;
  socket.send("abstain", {});
}

function setPoints(option) {
  if (!state.story || !state.connected || state.pointsSent) return;
  state.pointsSent = true;
  socket.send("points_submitted", { story_points: option });
  socket.send("next_story_requested", { story_id: null });
  renderCards();
  renderVotes();
}

/**
 * A round without a story: the server adds one and starts it. It is named as the server names
 * one (`Quick round 14:05`, whatever the page's language: a story's name is the team's data, read
 * in every language), but by the moderator's clock rather than the server's time zone.
 */
function quickRound() {
  if (!state.connected) return;
  const now = new Date();
  const time = [now.getHours(), now.getMinutes()].map((n) => String(n).padStart(2, "0")).join(":");
  socket.send("quick_round_requested", { ticket_number: `Quick round ${time}` });
}

// ---------------------------------------------------------------------------------------------
// The round's countdown: the server says when it ends in its own clock and what its clock read
// as it sent the frame, so a browser whose clock is off still counts the same seconds.

let timerTick = null;

function startTimer(data) {
  const serverNow = Date.parse(data.server_time);
  const endsAt = Date.parse(data.ends_at);
  if (Number.isNaN(serverNow) || Number.isNaN(endsAt)) return;
  state.timer = { endsAt: Date.now() + (endsAt - serverNow) };
  clearInterval(timerTick);
  timerTick = setInterval(renderTimer, 250);
  renderTimer();
}

function stopTimer() {
  state.timer = null;
  clearInterval(timerTick);
  timerTick = null;
  renderTimer();
}

function renderTimer() {
  const box = byId("timer");
  const running = !!state.timer && !!state.story;
  show(box, running);
  show(byId("timer-stop"), state.canModerate && running);
  byId("timer-start").disabled = !state.connected || !state.story;
  byId("timer-stop").disabled = !state.connected;
  if (!running) return;
  const left = Math.max(0, Math.ceil((state.timer.endsAt - Date.now()) / 1000));
  const text = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  byId("timer-left").textContent = text;
  box.classList.toggle("low", left <= 10);
}

// ---------------------------------------------------------------------------------------------
// Invites (moderators): a link that lets guests in without an account, listed and revocable.

function renderInvites(invites) {
  const open = invites.filter((i) => i.open);
  show(byId("invites"), open.length > 0 || byId("invite-link").value !== "");
  const when = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "short" });
  replace(byId("invite-list"), open.map((invite) =>
    h("li", { class: "invite", dataset: { inviteId: invite.id } },
      h("span", {}, t("invite_entry", {
        role: t(invite.role === "voter" ? "invite_voter" : "invite_spectator"),
        guests: invite.guests,
        time: when.format(new Date(invite.expires_at)),
      })),
      " ",
      h("button", {
        type: "button", class: "button small subtle revoke-invite",
        onclick: () => revokeInvite(invite.id),
      }, t("invite_revoke")))));
}

async function loadInvites() {
  if (!state.canModerate) return;
  try {
    renderInvites(await api.invites(sessionId));
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) toast(errorText(e), "error");
  }
}

async function createInvite() {
  try {
    const invite = await api.createInvite(sessionId, { role: byId("invite-role").value });
    const link = byId("invite-link");
    link.value = new URL(invite.link, location.origin).href;
    await loadInvites();
    link.focus();
    link.select();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) toast(errorText(e), "error");
  }
}

async function revokeInvite(id) {
  try {
    await api.revokeInvite(sessionId, id);
    byId("invite-link").value = "";
    toast(t("invite_revoked"), "success");
    await loadInvites();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) toast(errorText(e), "error");
  }
}

function pickStory(id) {
  if (!state.connected || state.story?.id === id) return;
  socket.send("next_story_requested", { story_id: id });
}

function endSession(url) {
  if (state.ended) return;
  state.ended = true;
  socket?.stop("closed");
  try {
    sessionStorage.setItem("flash", JSON.stringify({
      kind: "session_ended", name: state.session?.name || null,
    }));
  } catch {
    // Private mode without storage: the message is a nicety.
  }
  toast(t("session_ended"));
  location.assign(typeof url === "string" && url ? url : "/");
}

// ---------------------------------------------------------------------------------------------
// Rendering

function renderHeader() {
  const name = state.session?.name || t("session_title");
  byId("session-name").textContent = name;
  document.title = `${name} — ${t("app_name")}`;
}

function renderStory() {
  const story = state.story;
  show(byId("story-current"), !!story);
  show(byId("story-none"), !story);
  if (story) {
    byId("story-label").textContent = story.story_label;
    const description = byId("story-description");
    if (story.description && story.description.trim()) {
      // Sanitized by the server when the story was written (ammonia allow-list).
      description.innerHTML = story.description;
      description.classList.remove("muted");
    } else {
      description.textContent = t("no_description");
      description.classList.add("muted");
    }
  } else {
    const open = state.stories.some((s) => s.story_points === null || s.story_points === undefined);
    byId("story-none-text").textContent = state.stories.length === 0
      ? t("stories_empty")
      : state.canModerate ? t("no_active_story_moderator") : t("no_active_story");
    const start = byId("start");
    show(start, state.canModerate && open);
    start.disabled = !state.connected;
  }
}

/** Builds the card buttons when the deck or the mode changed; else only updates them. */
function renderCards() {
  const section = byId("voting");
  const cards = byId("cards");
  const hint = byId("cards-hint");
  const heading = byId("cards-heading");
  const spectator = !state.canVote && !state.canModerate;
  show(section, !spectator);
  show(byId("spectator-note"), spectator);
  if (spectator) {
    replace(cards);
    state.cardsKey = "";
    return;
  }
  const mode = state.canVote ? "vote" : "points";
  const { points, others } = deckOptions();
  const options = mode === "vote" ? [...points, ...others] : points;
  const key = `${mode}:${JSON.stringify(options)}`;
  if (key !== state.cardsKey) {
    state.cardsKey = key;
    replace(cards, options.map((option) => {
      const wide = option.length > 2;
      return h("button", {
        type: "button",
        class: ["card", wide && "card-wide"],
        dataset: { option },
        "aria-label": t(mode === "vote" ? "card_vote_label" : "card_points_label",
          { option: optionLabel(option) }),
        onclick: () => (mode === "vote" ? vote(option) : setPoints(option)),
      }, h("span", { class: "card-value" }, optionLabel(option)));
    }));
  }
  heading.textContent = t(mode === "vote" ? "cards_title" : "cards_title_moderator");
  const chosen = mode === "vote" ? currentVote() : null;
  const usable = !!state.story && state.connected && !(mode === "points" && state.pointsSent);
  const abstainRow = byId("abstain-row");
  const abstainButton = byId("abstain");
  show(abstainRow, mode === "vote" && !!state.story);
  abstainButton.disabled = !usable || abstained();
  abstainButton.setAttribute("aria-pressed", String(abstained()));
  abstainButton.classList.toggle("selected", abstained());
  for (const button of cards.querySelectorAll("button.card")) {
    const selected = chosen !== null && button.dataset.option === chosen;
    button.disabled = !usable;
    if (mode === "vote") button.setAttribute("aria-pressed", String(selected));
    button.classList.toggle("selected", selected);
    button.classList.toggle("pending", selected && state.pendingVote !== null);
  }
  if (mode === "vote" && chosen !== null && state.pendingVote === null) {
    hint.textContent = t("your_vote", { option: optionLabel(chosen) });
  } else if (mode === "vote" && abstained()) {
    hint.textContent = t("you_abstained");
  } else {
    hint.textContent = t(mode === "vote" ? "cards_hint_vote" : "cards_hint_moderate");
  }
}

function voterNames(voters) {
  return h("ul", { class: "voter-names" },
    voters.map((v) => h("li", { class: v.id === state.me.id ? "me" : null }, v.name)));
}

function renderVotes() {
  const area = byId("votes");
  const stats = byId("stats");
  const count = byId("votes-count");
  const story = state.story;
  const controls = byId("moderator-controls");
  show(controls, state.canModerate && !!story);
  show(byId("votes-panel"), !!story);
  if (!story) {
    replace(area);
    replace(stats);
    count.textContent = "";
    return;
  }
  const groups = voteGroups(story.votes);
  const voters = Array.isArray(story.voters) ? story.voters : [];
  const abstainers = Array.isArray(story.abstained) ? story.abstained : [];
  const roundState = byId("round-state");
  show(roundState, moderatorReveals());
  roundState.dataset.revealed = String(!!story.revealed);
  roundState.textContent = story.revealed ? t("round_revealed") : t("round_hidden");
  const out = byId("abstained");
  show(out, abstainers.length > 0);
  out.textContent = abstainers.length
    ? t("abstained_list", { names: abstainers.map((p) => p.name).join(", ") })
    : "";
  const reveal = byId("reveal");
  show(reveal, state.canModerate && moderatorReveals());
  reveal.disabled = !state.connected || !!story.revealed;
  const { points } = deckOptions();
  const moderatorPicks = state.canModerate && state.connected && !state.pointsSent;
  area.classList.toggle("revealed", groups.length > 0);
  // Moderators keep the hint's line, so nothing moves when it appears.
  const pickHint = byId("votes-pick-hint");
  show(pickHint, state.canModerate);
  pickHint.classList.toggle("invisible",
    !(moderatorPicks && groups.some((g) => points.includes(g.option))));
  if (groups.length > 0) {
    replace(area, groups.map(({ option, voters: who }) => {
      const settable = moderatorPicks && points.includes(option);
      const face = h("span", { class: "card-value" }, optionLabel(option));
      const card = settable
        ? h("button", {
          type: "button",
          class: ["card", "face-up", option.length > 2 && "card-wide"],
          dataset: { option },
          title: t("set_points_from_vote", { option }),
          "aria-label": t("set_points_from_vote", { option }),
          onclick: () => setPoints(option),
        }, face)
        : h("div", { class: ["card", "face-up", option.length > 2 && "card-wide"] }, face);
      return h("div", { class: "vote-group", dataset: { option } },
        h("div", { class: "vote-card" }, card,
          h("span", { class: "vote-tally", "aria-label": tn("votes_count", who.length) },
            `×${who.length}`)),
        voterNames(who));
    }));
  } else if (voters.length > 0) {
    replace(area, voters.map((v) =>
      h("div", { class: "vote-group face-down", dataset: { voterId: v.id } },
        h("div", { class: "vote-card" },
          h("div", { class: "card back", role: "img", "aria-label": t("voted_face_down", { name: v.name }) })),
        voterNames([v]))));
  } else {
    replace(area, h("div", { class: "votes-empty" },
      h("div", { class: "card ghost", "aria-hidden": "true" }),
      h("p", { class: "hint" }, t("votes_none"))));
  }
  const total = groups.length > 0 ? voteStats(groups).count : voters.length;
  count.textContent = total > 0 ? tn("votes_count", total) : "";

  if (groups.length > 0) {
    const s = voteStats(groups);
    const parts = [];
    if (s.average !== null) {
      parts.push(h("span", { class: "stat" }, h("span", { class: "stat-name" }, t("stat_average")),
        h("strong", { class: "stat-value", id: "stat-average" }, formatNumber(s.average))));
      parts.push(h("span", { class: "stat" }, h("span", { class: "stat-name" }, t("stat_median")),
        h("strong", { class: "stat-value", id: "stat-median" }, formatNumber(s.median))));
    }
    if (s.count >= 2) {
      parts.push(h("span", { class: ["stat", "agreement", s.agreed ? "agreed" : "split"], id: "stat-agreement" },
        s.agreed ? t("stat_agreed") : t("stat_not_agreed")));
    }
    replace(stats, parts);
  } else if (voters.length > 0 && state.canVote && moderatorReveals() && !story.revealed) {
    replace(stats, h("span", { class: "hint" }, t("votes_hidden_until_reveal")));
  } else if (voters.length > 0 && state.canVote && currentVote() === null) {
    replace(stats, h("span", { class: "hint" }, t("votes_hidden")));
  } else {
    replace(stats);
  }

  // A voter who also moderates sets the points here once they have voted.
  const pointsRow = byId("points-row");
  const showPoints = state.canModerate && state.canVote && myVote(story.votes, state.me.id) !== null;
  show(pointsRow, showPoints);
  const key = JSON.stringify(points);
  const buttons = byId("points-buttons");
  if (key !== state.pointsKey) {
    state.pointsKey = key;
    replace(buttons, points.map((option) => h("button", {
      type: "button",
      class: "button points-button",
      dataset: { option },
      "aria-label": t("card_points_label", { option }),
      onclick: () => setPoints(option),
    }, option)));
  }
  for (const button of buttons.querySelectorAll("button")) {
    button.disabled = !state.connected || state.pointsSent;
  }
  byId("reset").disabled = !state.connected || (voters.length === 0 && abstainers.length === 0);
  byId("next").disabled = !state.connected || state.pointsSent;
}

function renderStories() {
  const list = byId("stories-list");
  const activeId = state.story?.id ?? null;
  const done = state.stories.filter((s) => s.story_points !== null && s.story_points !== undefined);
  byId("stories-progress").textContent = state.stories.length
    ? t("stories_progress", { done: done.length, total: state.stories.length })
    : "";
  show(byId("stories-hint"), state.canModerate && state.stories.length > 0);
  const quick = byId("quick-round");
  show(quick, state.canModerate);
  quick.disabled = !state.connected;
  if (state.stories.length === 0) {
    replace(list, h("li", { class: "story-empty hint" }, t("stories_empty")));
    return;
  }
  const activeIndex = state.stories.findIndex((s) => s.id === activeId);
  replace(list, state.stories.map((story, index) => {
    const hasPoints = story.story_points !== null && story.story_points !== undefined;
    const active = story.id === activeId;
    const status = active ? "active"
      : (activeIndex >= 0 && index < activeIndex) || hasPoints ? "previous" : "upcoming";
    const content = [
      h("span", { class: "story-pos", "aria-hidden": "true" }, String(index + 1)),
      h("span", { class: "story-text" }, story.label),
      active
        ? h("span", { class: "badge now" }, t("story_now"))
        : h("span", { class: ["badge", "points", !hasPoints && "empty"] },
          hasPoints ? pointsText(story.story_points) : t("no_points")),
    ];
    const row = state.canModerate
      ? h("button", {
        type: "button",
        class: "story-row",
        disabled: active || !state.connected,
        onclick: () => pickStory(story.id),
      }, content)
      : h("div", { class: "story-row" }, content);
    return h("li", {
      class: ["story-item", status, hasPoints && "estimated"],
      dataset: { storyId: story.id },
      "aria-current": active ? "step" : null,
    }, row);
  }));
}

function roleNames(permissions) {
  const roles = [];
  if (permissions.includes("vote")) roles.push(t("role_vote"));
  if (permissions.includes("moderate")) roles.push(t("role_moderate"));
  if (roles.length === 0) roles.push(t("role_spectator"));
  return roles;
}

function renderParticipants() {
  const people = state.participants;
  byId("participants-count").textContent = tn("participants", people.length);
  byId("participants-num").textContent = String(people.length);
  byId("participants-toggle").setAttribute("aria-label",
    `${t("participants_title")}: ${tn("participants", people.length)}`);
  const list = byId("participants-list");
  if (people.length === 0) {
    replace(list, h("li", { class: "hint" }, t("participants_none")));
    return;
  }
  replace(list, people.map((p) =>
    h("li", { class: "participant", dataset: { userId: p.id } },
      h("span", { class: "participant-name" }, p.name,
        p.id === state.me.id ? h("span", { class: "hint" }, ` (${t("you")})`) : null),
      h("span", { class: "roles" }, roleNames(p.permissions || []).map((role) =>
        h("span", { class: "badge role" }, role))))));
}

function renderAll() {
  renderHeader();
  renderStory();
  renderCards();
  renderVotes();
  renderStories();
  renderParticipants();
  renderTimer();
}

// ---------------------------------------------------------------------------------------------
// Connection state

let countdown = null;

function renderConnection(connState, info) {
  const pill = byId("conn");
  pill.dataset.state = connState;
  const text = byId("conn-text");
  clearInterval(countdown);
  countdown = null;
  state.connected = connState === "open";
  if (!state.connected) {
    // Whatever was on its way may not have arrived; the server's state comes on reconnect.
    state.pendingVote = null;
    state.pointsSent = false;
  }
  document.body.classList.toggle("offline", !state.connected);
  switch (connState) {
    case "connecting":
      text.textContent = t("conn_connecting");
      break;
    case "open":
      text.textContent = t("conn_live");
      hideBanner();
      break;
    case "reconnecting": {
      text.textContent = t("conn_reconnecting");
      if (info.retryAt) {
        const now = h("button", {
          type: "button", class: "button small", id: "reconnect-now",
          onclick: () => socket.connect(),
        }, t("reconnect_now"));
        const update = () => {
          const seconds = Math.max(0, Math.ceil((info.retryAt - Date.now()) / 1000));
          showBanner("warning", t("conn_reconnecting_in", { seconds }), " ", now);
        };
        update();
        countdown = setInterval(update, 1000);
      } else {
        showBanner("warning", t("conn_reconnecting"));
      }
      break;
    }
    case "expired":
      text.textContent = t("conn_offline");
      showLoginExpired();
      break;
    case "gone":
      text.textContent = t("conn_offline");
      showBanner("error", t("session_gone"), " ",
        h("a", { href: "/", class: "button small" }, t("back_to_sessions")));
      break;
    default:
      break;
  }
  if (!state.connected) stopTimer();
  if (!state.ended) {
    renderStory();
    renderCards();
    renderVotes();
    renderStories();
    renderTimer();
  }
}

// ---------------------------------------------------------------------------------------------
// Server events

function applySession(session) {
  state.session = session;
  state.stories = (session.stories || []).map((s) => ({
    id: s.id, label: s.label, story_points: s.story_points,
  }));
  if (session.active_story_id === null) state.story = null;
}

async function reloadSession() {
  try {
    applySession(await api.session(sessionId));
    renderAll();
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      socket.stop("gone");
    } else if (!(e instanceof ApiError && e.status === 401)) {
      toast(errorText(e), "error");
    }
  }
}

function onEvent(name, data) {
  switch (name) {
    case "story_changed": {
      const changed = state.story?.id !== data.id;
      state.story = data;
      if (changed) state.pointsSent = false;
      if (changed || state.pendingVote === myVote(data.votes, state.me.id)) {
        state.pendingVote = null;
      }
      if (changed && !state.stories.some((s) => s.id === data.id)) reloadSession();
      renderStory();
      renderCards();
      renderVotes();
      renderStories();
      renderTimer();
      break;
    }
    case "story_points_submitted": {
      const story = state.story;
      if (story) {
        const entry = state.stories.find((s) => s.id === story.id);
        if (entry) entry.story_points = data.story_points;
        toast(t("points_set", { points: pointsText(data.story_points), story: story.story_label }), "success");
      }
      renderStories();
      break;
    }
    case "stories_changed":
      state.stories = (data.stories || []).map((s) => ({
        id: s.id, label: s.label, story_points: s.story_points,
      }));
      renderStories();
      renderStory();
      break;
    case "participants_changed":
      state.participants = data.participants || [];
      renderParticipants();
      break;
    case "timer_started":
      startTimer(data);
      break;
    case "timer_stopped":
      stopTimer();
      break;
    case "timer_ended":
      stopTimer();
      toast(t("timer_ended"));
      break;
    case "poker_session_ended":
      endSession(data.poker_session_end_redirect_url);
      break;
    case "error":
      state.pendingVote = null;
      state.pointsSent = false;
      toast(t("server_error", { message: data.message || data.code }), "error");
      renderCards();
      renderVotes();
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Participants popover: shown on hover (CSS) and toggled by click or keyboard.

function wireParticipants() {
  const box = byId("participants");
  const toggle = byId("participants-toggle");
  const setOpen = (open) => {
    box.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", String(open));
  };
  toggle.addEventListener("click", (event) => {
    event.stopPropagation();
    setOpen(!box.classList.contains("open"));
  });
  document.addEventListener("click", (event) => {
    if (!box.contains(event.target)) setOpen(false);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && box.classList.contains("open")) {
      setOpen(false);
      toggle.focus();
    }
  });
}

// ---------------------------------------------------------------------------------------------

async function main() {
  wireParticipants();
  byId("start").addEventListener("click", () => socket.send("next_story_requested", { story_id: null }));
  byId("reset").addEventListener("click", () => socket.send("reset_requested", {}));
  byId("reveal").addEventListener("click", () => socket.send("reveal_requested", {}));
  byId("abstain").addEventListener("click", abstain);
  byId("quick-round").addEventListener("click", quickRound);
  byId("timer-start").addEventListener("click", () => {
    socket.send("timer_start_requested", { seconds: Number(byId("timer-seconds").value) });
  });
  byId("timer-stop").addEventListener("click", () => socket.send("timer_stop_requested", {}));
  byId("invite-create").addEventListener("click", createInvite);
  byId("next").addEventListener("click", () => {
    if (state.pointsSent) return;
    socket.send("next_story_requested", { story_id: null });
  });

  const me = await initLayout();
  if (!me) return;
  state.me = me;
  state.canVote = me.permissions.includes("vote");
  state.canModerate = me.permissions.includes("moderate");
  document.body.classList.toggle("is-moderator", state.canModerate);
  document.body.classList.toggle("is-voter", state.canVote);

  try {
    applySession(await api.session(sessionId));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      showBanner("error", t("session_gone"), " ",
        h("a", { href: "/", class: "button small" }, t("back_to_sessions")));
      byId("conn").hidden = true;
    } else if (!(e instanceof ApiError && e.status === 401)) {
      showBanner("error", errorText(e), " ",
        h("button", { type: "button", class: "button small", onclick: () => location.reload() }, t("retry")));
    }
    return;
  }
  renderAll();

  socket = new PokerSocket(sessionId, {
    onEvent,
    onState: renderConnection,
    onOpen: ({ reconnected }) => {
      // The server re-sends story_changed and participants_changed; the story list comes
      // from REST.
      if (reconnected) reloadSession();
      // A moderator's invites load once the socket is open, so that every page makes the same
      // requests before its socket (behind a round-robin balancer, where the socket lands
      // follows that count).
      else loadInvites();
    },
  });
  socket.connect();
}

main();
