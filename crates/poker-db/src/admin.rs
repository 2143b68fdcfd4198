//! Store methods behind the administrative REST API: editing and deleting users, sessions and
//! stories, reordering, importing and exporting.

use diesel::dsl::{count_star, max};
use diesel::prelude::*;
use poker_core::Deck;

use crate::models::*;
use crate::schema::*;
use crate::store::{bumped, session_row, session_stories, set_active, write_tx, Store};
use crate::{DbConnection, DbError};

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub username: Option<String>,
    pub password_hash: Option<String>,
    pub can_vote: Option<bool>,
    pub can_moderate: Option<bool>,
    pub is_admin: Option<bool>,
}

/// Changes to a session; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SessionPatch {
    pub name: Option<String>,
    pub poker_date: Option<chrono::NaiveDate>,
    pub deck: Option<Deck>,
    pub secret_votes: Option<bool>,
    pub reveal: Option<poker_core::RevealMode>,
    pub auto_reveal: Option<bool>,
    pub timer_reveals: Option<bool>,
}

/// Changes to a story; `None` leaves a field as it is, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct StoryPatch {
    pub ticket_number: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub story_points: Option<Option<String>>,
    pub poker_session_id: Option<Option<i64>>,
}

/// A story after an edit, and the sessions whose live members must hear about it.
#[derive(Debug, Clone)]
pub struct StoryEdit {
    pub story: Story,
    /// The session it belonged to before (differs from the story's when it moved).
    pub previous_session_id: Option<i64>,
    /// Whether it was the active story of its previous session.
    pub was_active: bool,
    /// The new versions of the sessions it was and is in (one if it stayed), for their live
    /// members.
    pub versions: Vec<SessionVersion>,
}

impl StoryEdit {
    /// The new version of a session the edit touched.
    pub fn version_of(&self, session_id: i64) -> Option<SessionVersion> {
        self.versions
            .iter()
            .copied()
            .find(|v| v.session_id == session_id)
    }
}

/// A story that was deleted, and where it was.
#[derive(Debug, Clone, Copy)]
pub struct StoryRemoval {
    pub session_id: Option<i64>,
    pub was_active: bool,
    /// Its session's new version.
    pub version: Option<SessionVersion>,
}

/// A row of the export: a story with its vote count.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub story: Story,
    pub votes: i64,
}

/// Why a reorder was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReorderError {
    /// The ids are not exactly the session's stories.
    Mismatch,
}

fn admins_left(conn: &mut DbConnection, except: i64) -> Result<i64, DbError> {
    Ok(users::table
        .filter(users::is_admin.eq(true))
        .filter(users::id.ne(except))
        .select(count_star())
        .first(conn)?)
}

fn is_active_in(
    conn: &mut DbConnection,
    session_id: Option<i64>,
    story_id: i64,
) -> Result<bool, DbError> {
    let Some(session_id) = session_id else {
        return Ok(false);
    };
    Ok(session_row(conn, session_id)?.is_some_and(|s| s.active_story_id == Some(story_id)))
}

fn next_position(conn: &mut DbConnection, session_id: i64) -> Result<i64, DbError> {
    let last: Option<i64> = stories::table
        .filter(stories::poker_session_id.eq(session_id))
        .select(max(stories::position))
        .first(conn)?;
    Ok(last.map_or(0, |p| p + 1))
}

fn unique(e: diesel::result::Error) -> DbError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => DbError::Conflict("a user with this username exists".into()),
        other => other.into(),
    }
}

impl Store {
    // ---- users ----

    /// Edits a user. Refuses (`Conflict`) to take away the last administrator's rights.
    pub fn update_user(&self, id: i64, patch: &UserPatch) -> Result<User, DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            let current: User = users::table
                .find(id)
                .select(User::as_select())
                .first(conn)
                .optional()?
                .ok_or(DbError::NotFound)?;
            if current.is_admin && patch.is_admin == Some(false) && admins_left(conn, id)? == 0 {
                return Err(DbError::Conflict("this is the last administrator".into()));
            }
            if let Some(username) = &patch.username {
                diesel::update(users::table.find(id))
                    .set(users::username.eq(username))
                    .execute(conn)
                    .map_err(unique)?;
            }
            if let Some(hash) = &patch.password_hash {
                diesel::update(users::table.find(id))
                    .set(users::password_hash.eq(hash))
                    .execute(conn)?;
                // A new password ends every login of the user, bearer tokens included: whoever
                // knew the old password may have made one.
                diesel::delete(tokens::table.filter(tokens::user_id.eq(id))).execute(conn)?;
            }
            if let Some(v) = patch.can_vote {
                diesel::update(users::table.find(id))
                    .set(users::can_vote.eq(v))
                    .execute(conn)?;
            }
            if let Some(v) = patch.can_moderate {
                diesel::update(users::table.find(id))
                    .set(users::can_moderate.eq(v))
                    .execute(conn)?;
            }
            if let Some(v) = patch.is_admin {
                diesel::update(users::table.find(id))
                    .set(users::is_admin.eq(v))
                    .execute(conn)?;
            }
            Ok(users::table
                .find(id)
                .select(User::as_select())
                .first(conn)?)
        })
    }

    /// Deletes a user with their votes and tokens; returns the new versions of the sessions
    /// whose active story had one of their votes. Refuses (`Conflict`) to delete the last
    /// administrator.
    pub fn delete_user(&self, id: i64) -> Result<Vec<SessionVersion>, DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            let user: User = users::table
                .find(id)
                .select(User::as_select())
                .first(conn)
                .optional()?
                .ok_or(DbError::NotFound)?;
            if user.is_admin && admins_left(conn, id)? == 0 {
                return Err(DbError::Conflict("this is the last administrator".into()));
            }
            let mut touched: Vec<i64> = votes::table
                .inner_join(stories::table)
                .inner_join(
                    poker_sessions::table
                        .on(poker_sessions::active_story_id.eq(stories::id.nullable())),
                )
                .filter(votes::user_id.eq(id))
                .select(poker_sessions::id)
                .load(conn)?;
            // Session rows are locked in ascending order, as everywhere (see `live`).
            touched.sort_unstable();
            touched.dedup();
            let versions = touched
                .into_iter()
                .map(|session_id| bumped(conn, session_id))
                .collect::<Result<Vec<_>, _>>()?;
            diesel::delete(votes::table.filter(votes::user_id.eq(id))).execute(conn)?;
            diesel::delete(tokens::table.filter(tokens::user_id.eq(id))).execute(conn)?;
            diesel::delete(users::table.find(id)).execute(conn)?;
            Ok(versions)
        })
    }

    // ---- sessions ----

    /// Edits a session; with its new version.
    pub fn update_session(
        &self,
        id: i64,
        patch: &SessionPatch,
    ) -> Result<(PokerSession, SessionVersion), DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            let version = bumped(conn, id)?;
            let target = poker_sessions::table.find(id);
            if let Some(name) = &patch.name {
                diesel::update(target)
                    .set(poker_sessions::name.eq(name))
                    .execute(conn)?;
            }
            if let Some(date) = patch.poker_date {
                diesel::update(target)
                    .set(poker_sessions::poker_date.eq(date))
                    .execute(conn)?;
            }
            if let Some(deck) = &patch.deck {
                let deck =
                    serde_json::to_string(deck).map_err(|e| DbError::Query(e.to_string()))?;
                diesel::update(target)
                    .set(poker_sessions::deck.eq(deck))
                    .execute(conn)?;
            }
            if let Some(secret) = patch.secret_votes {
                diesel::update(target)
                    .set(poker_sessions::secret_votes.eq(secret))
                    .execute(conn)?;
            }
            if let Some(reveal) = patch.reveal {
                diesel::update(target)
                    .set(poker_sessions::reveal.eq(reveal.as_str()))
                    .execute(conn)?;
            }
            if let Some(auto) = patch.auto_reveal {
                diesel::update(target)
                    .set(poker_sessions::auto_reveal.eq(auto))
                    .execute(conn)?;
            }
            if let Some(reveals) = patch.timer_reveals {
                diesel::update(target)
                    .set(poker_sessions::timer_reveals.eq(reveals))
                    .execute(conn)?;
            }
            let session = session_row(conn, id)?.ok_or(DbError::NotFound)?.into();
            Ok((session, version))
        })
    }

    /// Deletes a session; its stories stay, unassigned (as in the original).
    pub fn delete_session(&self, id: i64) -> Result<(), DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            session_row(conn, id)?.ok_or(DbError::NotFound)?;
            set_active(conn, id, None)?;
            diesel::update(stories::table.filter(stories::poker_session_id.eq(id)))
                .set(stories::poker_session_id.eq(None::<i64>))
                .execute(conn)?;
            diesel::delete(poker_sessions::table.find(id)).execute(conn)?;
            Ok(())
        })
    }

    // ---- stories ----

    /// Edits a story. Moving it to another session appends it there and, if it was active where
    /// it was, leaves that session without an active story.
    pub fn update_story(&self, id: i64, patch: &StoryPatch) -> Result<StoryEdit, DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            let before: Story = stories::table
                .find(id)
                .select(Story::as_select())
                .first(conn)
                .optional()?
                .ok_or(DbError::NotFound)?;
            // Lock the sessions first (ascending), then touch the story.
            let mut sessions: Vec<i64> = before.poker_session_id.into_iter().collect();
            if let Some(Some(new_session)) = patch.poker_session_id {
                sessions.push(new_session);
            }
            sessions.sort_unstable();
            sessions.dedup();
            let versions = sessions
                .into_iter()
                .map(|session_id| bumped(conn, session_id))
                .collect::<Result<Vec<_>, _>>()?;
            let was_active = is_active_in(conn, before.poker_session_id, id)?;
            let target = stories::table.find(id);
            if let Some(v) = &patch.ticket_number {
                diesel::update(target)
                    .set(stories::ticket_number.eq(v))
                    .execute(conn)?;
            }
            if let Some(v) = &patch.title {
                diesel::update(target)
                    .set(stories::title.eq(v))
                    .execute(conn)?;
            }
            if let Some(v) = &patch.description {
                diesel::update(target)
                    .set(stories::description.eq(v))
                    .execute(conn)?;
            }
            if let Some(v) = &patch.story_points {
                diesel::update(target)
                    .set(stories::story_points.eq(v.as_deref()))
                    .execute(conn)?;
            }
            if let Some(new_session) = patch.poker_session_id {
                if new_session != before.poker_session_id {
                    let position = match new_session {
                        Some(s) => {
                            session_row(conn, s)?.ok_or(DbError::NotFound)?;
                            next_position(conn, s)?
                        }
                        None => 0,
                    };
                    if was_active {
                        if let Some(old) = before.poker_session_id {
                            set_active(conn, old, None)?;
                        }
                    }
                    diesel::update(target)
                        .set((
                            stories::poker_session_id.eq(new_session),
                            stories::position.eq(position),
                        ))
                        .execute(conn)?;
                }
            }
            let story = stories::table
                .find(id)
                .select(Story::as_select())
                .first(conn)?;
            Ok(StoryEdit {
                story,
                previous_session_id: before.poker_session_id,
                was_active,
                versions,
            })
        })
    }

    /// Deletes a story with its votes; it stops being its session's active story.
    pub fn delete_story(&self, id: i64) -> Result<StoryRemoval, DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            let story: Story = stories::table
                .find(id)
                .select(Story::as_select())
                .first(conn)
                .optional()?
                .ok_or(DbError::NotFound)?;
            let version = story
                .poker_session_id
                .map(|session_id| bumped(conn, session_id))
                .transpose()?;
            let was_active = is_active_in(conn, story.poker_session_id, id)?;
            if let (true, Some(session_id)) = (was_active, story.poker_session_id) {
                set_active(conn, session_id, None)?;
            }
            diesel::delete(votes::table.filter(votes::story_id.eq(id))).execute(conn)?;
            diesel::delete(stories::table.find(id)).execute(conn)?;
            Ok(StoryRemoval {
                session_id: story.poker_session_id,
                was_active,
                version,
            })
        })
    }

    /// Puts a session's stories in the given order; the ids must be exactly its stories. With
    /// the session's new version (a refused reorder rolls it back).
    pub fn reorder_stories(
        &self,
        session_id: i64,
        ids: &[i64],
    ) -> Result<Result<(Vec<Story>, SessionVersion), ReorderError>, DbError> {
        let conn = &mut *self.conn()?;
        let mismatch = std::cell::Cell::new(false);
        let result = write_tx(conn, |conn| {
            let version = bumped(conn, session_id)?;
            let current = session_stories(conn, session_id)?;
            let mut wanted = ids.to_vec();
            wanted.sort_unstable();
            let mut have: Vec<i64> = current.iter().map(|s| s.id).collect();
            have.sort_unstable();
            if wanted != have || ids.len() != current.len() {
                mismatch.set(true);
                return Err(DbError::Conflict("not the session's stories".into()));
            }
            for (position, id) in ids.iter().enumerate() {
                diesel::update(stories::table.find(*id))
                    .set(stories::position.eq(position as i64))
                    .execute(conn)?;
            }
            Ok((session_stories(conn, session_id)?, version))
        });
        match result {
            Err(_) if mismatch.get() => Ok(Err(ReorderError::Mismatch)),
            other => other.map(Ok),
        }
    }

    /// Appends stories to a session, all or none; with the session's new version.
    pub fn import_stories(
        &self,
        session_id: i64,
        new: &[NewStory],
    ) -> Result<(Vec<Story>, SessionVersion), DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            let version = bumped(conn, session_id)?;
            let first = next_position(conn, session_id)?;
            let mut created = Vec::with_capacity(new.len());
            for (offset, story) in new.iter().enumerate() {
                let position = first + offset as i64;
                let id: i64 = diesel::insert_into(stories::table)
                    .values((
                        stories::poker_session_id.eq(Some(session_id)),
                        stories::position.eq(position),
                        stories::ticket_number.eq(&story.ticket_number),
                        stories::title.eq(&story.title),
                        stories::description.eq(&story.description),
                    ))
                    .returning(stories::id)
                    .get_result(conn)?;
                created.push(Story {
                    id,
                    poker_session_id: Some(session_id),
                    position,
                    ticket_number: story.ticket_number.clone(),
                    title: story.title.clone(),
                    description: story.description.clone(),
                    story_points: None,
                });
            }
            Ok((created, version))
        })
    }

    /// A session's stories in order with how many votes each has.
    pub fn export_rows(&self, session_id: i64) -> Result<Vec<ExportRow>, DbError> {
        let conn = &mut *self.conn()?;
        session_row(conn, session_id)?.ok_or(DbError::NotFound)?;
        let stories = session_stories(conn, session_id)?;
        let counts: Vec<(i64, i64)> = votes::table
            .inner_join(stories::table)
            .filter(stories::poker_session_id.eq(session_id))
            .group_by(votes::story_id)
            .select((votes::story_id, count_star()))
            .load(conn)?;
        Ok(stories
            .into_iter()
            .map(|story| {
                let votes = counts
                    .iter()
                    .find(|(id, _)| *id == story.id)
                    .map_or(0, |(_, n)| *n);
                ExportRow { story, votes }
            })
            .collect())
    }
}
