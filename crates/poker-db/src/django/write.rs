//! Writing what was read into our database, in one transaction, with `django_imports` recording
//! each row brought over. A row recorded there is left as it is (counted "already imported"),
//! so running the import again changes nothing.

use std::collections::{HashMap, HashSet};

use diesel::connection::SimpleConnection;
use diesel::dsl::{count_star, max};
use diesel::prelude::*;
use poker_core::{fields, story_label, Deck};

use super::map::{self, Rights};
use super::read::DjangoData;
use super::{ImportError, Kind, Summary};
use crate::connection::DbConnection;
use crate::models::PokerSession;
use crate::schema::*;
use crate::DbError;

/// Runs the import in one transaction on `conn`: committed, or rolled back on a dry run (and on
/// any failure, so that a failed import leaves nothing half done).
pub fn write(
    conn: &mut DbConnection,
    data: &DjangoData,
    dry_run: bool,
    sanitize: &dyn Fn(&str) -> String,
) -> Result<Summary, ImportError> {
    // SQLite's IMMEDIATE takes the write lock at once, so a running server's writes wait for
    // the import (on its busy timeout) instead of failing to upgrade a read lock midway.
    let begin = match conn {
        DbConnection::Sqlite(_) => "BEGIN IMMEDIATE",
        DbConnection::Postgresql(_) => "BEGIN",
    };
    conn.batch_execute(begin).map_err(DbError::from)?;
    let result = import_all(conn, data, sanitize);
    let end = if result.is_ok() && !dry_run {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    let ended = conn.batch_execute(end);
    let mut summary = result?;
    ended.map_err(DbError::from)?;
    summary.dry_run = dry_run;
    Ok(summary)
}

/// What former runs brought over: (kind, Django id) → our id.
fn recorded(conn: &mut DbConnection) -> Result<HashMap<(String, i64), i64>, DbError> {
    let rows: Vec<(String, i64, i64)> = django_imports::table
        .select((
            django_imports::kind,
            django_imports::django_id,
            django_imports::our_id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(kind, django_id, our_id)| ((kind, django_id), our_id))
        .collect())
}

fn record(conn: &mut DbConnection, kind: Kind, django_id: i64, our_id: i64) -> Result<(), DbError> {
    diesel::insert_into(django_imports::table)
        .values((
            django_imports::kind.eq(kind.as_str()),
            django_imports::django_id.eq(django_id),
            django_imports::our_id.eq(our_id),
        ))
        .execute(conn)?;
    Ok(())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn describe(rights: Rights) -> String {
    let mut roles = Vec::new();
    if rights.is_admin {
        roles.push("admin");
    }
    if rights.can_moderate {
        roles.push("moderator");
    }
    if rights.can_vote {
        roles.push("voter");
    }
    if roles.is_empty() {
        roles.push("spectator");
    }
    roles.join(", ")
}

/// A session brought over, now or before.
struct SessionHere {
    id: i64,
    deck: Deck,
    /// Brought over by this run (a session from a former run keeps its active story).
    new: bool,
    /// Whether this run already counted a change of it (for a session of a former run).
    bumped: bool,
}

/// A story brought over, now or before: our id, and the Django id of its session.
struct StoryHere {
    id: i64,
    django_session: Option<i64>,
}

fn import_all(
    conn: &mut DbConnection,
    data: &DjangoData,
    sanitize: &dyn Fn(&str) -> String,
) -> Result<Summary, DbError> {
    let mut summary = Summary::default();
    let known = recorded(conn)?;
    let before = |kind: Kind, django_id: i64| known.get(&(kind.as_str().to_string(), django_id));

    // Rows of former runs may have been deleted here since: they are not brought back, and
    // nothing new is hung on them.
    let existing_users: HashSet<i64> = users::table
        .select(users::id)
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    let existing_stories: HashSet<i64> = stories::table
        .select(stories::id)
        .load::<i64>(conn)?
        .into_iter()
        .collect();

    // ---- users ----
    let mut users_here: HashMap<i64, i64> = HashMap::new();
    for user in &data.users {
        let label = format!("user {} {:?}", user.id, user.username);
        let out = summary.kind_mut(Kind::User);
        if let Some(&ours) = before(Kind::User, user.id) {
            out.already_imported += 1;
            if existing_users.contains(&ours) {
                users_here.insert(user.id, ours);
            }
            continue;
        }
        let username = match fields::username(&user.username) {
            Ok(username) => username,
            Err(e) => {
                out.skipped.push(format!("{label}: {e}"));
                continue;
            }
        };
        let taken: i64 = users::table
            .filter(users::username.eq(&username))
            .select(count_star())
            .first(conn)?;
        if taken > 0 {
            out.skipped.push(format!(
                "{label}: a user of that name exists here and was not imported from Django; \
                 left as it is (their votes are skipped too)"
            ));
            continue;
        }
        let rights = map::rights(user, &data.rights);
        let id: i64 = diesel::insert_into(users::table)
            .values((
                users::username.eq(&username),
                users::password_hash.eq(map::password_hash(user)),
                users::can_vote.eq(rights.can_vote),
                users::can_moderate.eq(rights.can_moderate),
                users::is_admin.eq(rights.is_admin),
                users::created_at.eq(now()),
            ))
            .returning(users::id)
            .get_result(conn)?;
        record(conn, Kind::User, user.id, id)?;
        users_here.insert(user.id, id);
        let out = summary.kind_mut(Kind::User);
        let inactive = if user.is_active { "" } else { ", inactive" };
        out.imported
            .push(format!("{label} ({}{inactive})", describe(rights)));
        if let Some(note) = map::password_note(user) {
            out.notes.push(format!("{label} {note}"));
        }
    }

    // ---- poker sessions ----
    let decks = map::decks(data);
    let mut sessions_here: HashMap<i64, SessionHere> = HashMap::new();
    for session in &data.sessions {
        let label = format!(
            "session {} {:?} of {}",
            session.id, session.name, session.poker_date
        );
        if let Some(&ours) = before(Kind::Session, session.id) {
            summary.sessions.already_imported += 1;
            // Deleted here since: its new stories have nowhere to go (and are skipped).
            if let Some(row) = crate::store::session_row(conn, ours)? {
                let deck = PokerSession::from(row).deck;
                sessions_here.insert(
                    session.id,
                    SessionHere {
                        id: ours,
                        deck,
                        new: false,
                        bumped: false,
                    },
                );
            }
            continue;
        }
        let name = match fields::session_name(&session.name) {
            Ok(name) => name,
            Err(e) => {
                summary
                    .sessions
                    .skipped
                    .push(format!("{label}: {e} (its stories are skipped too)"));
                continue;
            }
        };
        let deck = match decks.get(&session.id).cloned().flatten() {
            Some(deck) => deck,
            None => {
                summary.sessions.notes.push(format!(
                    "{label}: its votes and points make no valid deck; it gets the default \
                     deck, and votes outside it are skipped"
                ));
                Deck::default()
            }
        };
        if deck != Deck::default() {
            summary.sessions.notes.push(format!(
                "{label}: its votes or points go beyond the original's deck, so its deck is {}",
                deck.options().collect::<Vec<_>>().join(" ")
            ));
        }
        let deck_json = serde_json::to_string(&deck).map_err(|e| DbError::Query(e.to_string()))?;
        let id: i64 = diesel::insert_into(poker_sessions::table)
            .values((
                poker_sessions::name.eq(&name),
                poker_sessions::poker_date.eq(session.poker_date),
                poker_sessions::deck.eq(deck_json),
                poker_sessions::secret_votes.eq(true),
                poker_sessions::created_at.eq(now()),
            ))
            .returning(poker_sessions::id)
            .get_result(conn)?;
        record(conn, Kind::Session, session.id, id)?;
        let stories = data
            .stories
            .iter()
            .filter(|s| s.poker_session_id == Some(session.id))
            .count();
        summary
            .sessions
            .imported
            .push(format!("{label}, {stories} stories in the original"));
        sessions_here.insert(
            session.id,
            SessionHere {
                id,
                deck,
                new: true,
                bumped: false,
            },
        );
    }

    // ---- stories, in the original's order ----
    let mut stories_here: HashMap<i64, StoryHere> = HashMap::new();
    let mut without_session = 0;
    for (django_session, stories) in map::stories_in_order(data) {
        let mut next_position: Option<i64> = None;
        for story in stories {
            let label = format!(
                "story {} {:?}",
                story.id,
                story_label(&story.ticket_number, &story.title)
            );
            if let Some(&ours) = before(Kind::Story, story.id) {
                summary.stories.already_imported += 1;
                if existing_stories.contains(&ours) {
                    stories_here.insert(
                        story.id,
                        StoryHere {
                            id: ours,
                            django_session,
                        },
                    );
                }
                continue;
            }
            let session = match django_session {
                None => None,
                Some(id) => match sessions_here.get_mut(&id) {
                    Some(session) => Some(session),
                    None => {
                        summary
                            .stories
                            .skipped
                            .push(format!("{label}: its poker session {id} was not imported"));
                        continue;
                    }
                },
            };
            let checked = fields::ticket_number(&story.ticket_number)
                .and_then(|ticket| Ok((ticket, fields::title(&story.title)?)));
            let (ticket_number, title) = match checked {
                Ok(fields) => fields,
                Err(e) => {
                    summary.stories.skipped.push(format!("{label}: {e}"));
                    continue;
                }
            };
            let mut points = story.story_points.map(map::points_text);
            if let (Some(session), Some(value)) = (&session, &points) {
                if !session.deck.points.contains(value) {
                    summary.stories.notes.push(format!(
                        "{label}: its points {value} are not a point option of its session's \
                         deck here; imported without points"
                    ));
                    points = None;
                }
            }
            let our_session = session.as_ref().map(|s| s.id);
            let position = match next_position {
                Some(position) => position,
                None => {
                    let last: Option<i64> = match our_session {
                        Some(id) => stories::table
                            .filter(stories::poker_session_id.eq(id))
                            .select(max(stories::position))
                            .first(conn)?,
                        None => stories::table
                            .filter(stories::poker_session_id.is_null())
                            .select(max(stories::position))
                            .first(conn)?,
                    };
                    last.map_or(0, |p| p + 1)
                }
            };
            next_position = Some(position + 1);
            // A session of a former run that gets a story counts a change, as a REST edit
            // does, so live servers that follow its version see it.
            if let Some(session) = session {
                if !session.new && !session.bumped {
                    crate::live::bump_version(conn, session.id)?;
                    session.bumped = true;
                }
            }
            let id: i64 = diesel::insert_into(stories::table)
                .values((
                    stories::poker_session_id.eq(our_session),
                    stories::position.eq(position),
                    stories::ticket_number.eq(&ticket_number),
                    stories::title.eq(&title),
                    stories::description.eq(sanitize(&story.description)),
                    stories::story_points.eq(&points),
                ))
                .returning(stories::id)
                .get_result(conn)?;
            record(conn, Kind::Story, story.id, id)?;
            stories_here.insert(story.id, StoryHere { id, django_session });
            summary.stories.imported.push(label);
            if django_session.is_none() {
                without_session += 1;
            }
        }
    }
    if without_session > 0 {
        summary.stories.notes.push(format!(
            "without a poker session (the original keeps such stories for later): \
             {without_session}, imported without one, with their points and votes; an \
             administrator can move each into a session (PATCH /api/stories/{{id}} with \
             poker_session_id)"
        ));
    }

    // ---- the active story of each new session ----
    for session in &data.sessions {
        let (Some(here), Some(active)) = (sessions_here.get(&session.id), session.active_story_id)
        else {
            continue;
        };
        if !here.new {
            continue;
        }
        match stories_here.get(&active) {
            Some(story) if story.django_session == Some(session.id) => {
                crate::store::set_active(conn, here.id, Some(story.id))?;
            }
            _ => summary.sessions.notes.push(format!(
                "session {} {:?}: its active story {active} was not imported into it; it has \
                 none here",
                session.id, session.name
            )),
        }
    }

    // ---- votes ----
    let missing = |kind: Kind, django_id: i64| {
        let what = if kind == Kind::User {
            "the voter"
        } else {
            "the story"
        };
        if before(kind, django_id).is_some() {
            format!("{what}, imported before, has been deleted here since")
        } else {
            format!("{what} was not imported")
        }
    };
    for vote in &data.votes {
        let label = format!(
            "vote {} of user {} on story {}",
            vote.id, vote.user_id, vote.story_id
        );
        if before(Kind::Vote, vote.id).is_some() {
            summary.votes.already_imported += 1;
            continue;
        }
        let Some(story) = stories_here.get(&vote.story_id) else {
            summary
                .votes
                .skipped
                .push(format!("{label}: {}", missing(Kind::Story, vote.story_id)));
            continue;
        };
        let Some(&user_id) = users_here.get(&vote.user_id) else {
            summary
                .votes
                .skipped
                .push(format!("{label}: {}", missing(Kind::User, vote.user_id)));
            continue;
        };
        let choice = vote.choice.trim();
        let deck = story
            .django_session
            .and_then(|id| sessions_here.get(&id))
            .map(|s| &s.deck);
        let fits = match deck {
            Some(deck) => deck.options().any(|o| o == choice),
            // A story without a session has no deck: any option of a deck's shape goes.
            None => (1..=20).contains(&choice.chars().count()),
        };
        if !fits {
            summary.votes.skipped.push(format!(
                "{label}: the choice {choice:?} is not an option of its session's deck here"
            ));
            continue;
        }
        let existing: i64 = votes::table
            .filter(votes::story_id.eq(story.id))
            .filter(votes::user_id.eq(user_id))
            .select(count_star())
            .first(conn)?;
        if existing > 0 {
            summary.votes.skipped.push(format!(
                "{label}: that user has voted on that story here already; their vote here stays"
            ));
            continue;
        }
        let id: i64 = diesel::insert_into(votes::table)
            .values((
                votes::story_id.eq(story.id),
                votes::user_id.eq(user_id),
                votes::choice.eq(choice),
            ))
            .returning(votes::id)
            .get_result(conn)?;
        record(conn, Kind::Vote, vote.id, id)?;
        summary.votes.imported.push(label);
    }
    Ok(summary)
}
