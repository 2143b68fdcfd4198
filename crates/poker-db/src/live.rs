//! The writes of a live session, as functions of a connection: they run on the [`Writer`]'s
//! connection, inside a group-committed transaction.
//!
//! **Versions.** Every change to a session counts one more `poker_sessions.version` in the
//! transaction that makes it, and each write returns the version its change got. The `UPDATE`
//! that counts it takes the session row's lock first, so writers of every server process (and
//! REST edits, see `admin.rs`) are put in one order, and a write that depends on the active
//! story checks it under that lock: a write whose story is no longer active writes nothing and
//! returns `None`. Locks are always taken session row first (the writer runs a batch in
//! ascending session order), so two transactions never wait on each other in a cycle.
//!
//! [`Writer`]: crate::writer::Writer

use diesel::prelude::*;

use crate::models::*;
use crate::prepared::{new_version, BumpIfActive, BumpVersion, UpsertVote};
use crate::schema::*;
use crate::store::{
    append_story, session_row, session_stories, set_active, story_round, story_votes,
};
use crate::{DbConnection, DbError};

/// Takes the session row's lock and counts one change: the new version, or `None` when the
/// session does not exist.
pub fn bump_version(conn: &mut DbConnection, session_id: i64) -> Result<Option<i64>, DbError> {
    Ok(new_version(conn, BumpVersion { session_id })?)
}

/// As [`bump_version`], but only while `story_id` is the session's active story (checked
/// under the lock); `None` otherwise, with nothing written.
fn bump_if_active(
    conn: &mut DbConnection,
    session_id: i64,
    story_id: i64,
) -> Result<Option<i64>, DbError> {
    Ok(new_version(
        conn,
        BumpIfActive {
            session_id,
            story_id,
        },
    )?)
}

/// Records a user's vote on the active story, replacing any earlier vote of theirs (it keeps
/// its place) and their abstention, if any: the session's new version, or `None` if the story
/// is no longer active.
///
/// One statement on PostgreSQL (see [`CastVote`]), so that a vote alone in its batch commits in
/// a single round trip (`Store::write_statement`); on SQLite, whose statements cost no round
/// trip, the version bump and an upsert.
pub fn cast_vote(
    conn: &mut DbConnection,
    session_id: i64,
    story_id: i64,
    user_id: i64,
    choice: &str,
) -> Result<Option<i64>, DbError> {
    if let DbConnection::Postgresql(pg) = conn {
        let statement = CastVote {
            session_id,
            story_id,
            user_id,
            choice: choice.to_string(),
        };
        return Ok(statement.get_result::<i64>(pg).optional()?);
    }
    let Some(version) = bump_if_active(conn, session_id, story_id)? else {
        return Ok(None);
    };
    if let DbConnection::Sqlite(sqlite) = conn {
        UpsertVote {
            story_id,
            user_id,
            choice,
        }
        .execute(sqlite)?;
    }
    forget_abstention(conn, story_id, user_id)?;
    Ok(Some(version))
}

fn forget_abstention(conn: &mut DbConnection, story_id: i64, user_id: i64) -> Result<(), DbError> {
    diesel::delete(
        abstentions::table
            .filter(abstentions::story_id.eq(story_id))
            .filter(abstentions::user_id.eq(user_id)),
    )
    .execute(conn)?;
    Ok(())
}

/// Records that a user does not vote on the active story (`abstain`): any vote of theirs on it
/// goes; an earlier abstention keeps its place. The new version, or `None` if the story is no
/// longer active.
pub fn abstain(
    conn: &mut DbConnection,
    session_id: i64,
    story_id: i64,
    user_id: i64,
) -> Result<Option<i64>, DbError> {
    let Some(version) = bump_if_active(conn, session_id, story_id)? else {
        return Ok(None);
    };
    diesel::delete(
        votes::table
            .filter(votes::story_id.eq(story_id))
            .filter(votes::user_id.eq(user_id)),
    )
    .execute(conn)?;
    let already: Option<i64> = abstentions::table
        .filter(abstentions::story_id.eq(story_id))
        .filter(abstentions::user_id.eq(user_id))
        .select(abstentions::id)
        .first(conn)
        .optional()?;
    if already.is_none() {
        diesel::insert_into(abstentions::table)
            .values((
                abstentions::story_id.eq(story_id),
                abstentions::user_id.eq(user_id),
            ))
            .execute(conn)?;
    }
    Ok(Some(version))
}

/// Starts (or restarts) the active story's countdown: it ends `seconds` after `now` (ms since
/// 1970). The new version and the timer, or `None` if the story is no longer active.
pub fn start_timer(
    conn: &mut DbConnection,
    session_id: i64,
    story_id: i64,
    seconds: i64,
    now: i64,
) -> Result<Option<(i64, Timer)>, DbError> {
    let Some(version) = bump_if_active(conn, session_id, story_id)? else {
        return Ok(None);
    };
    let timer = Timer {
        ends_at: now + seconds * 1000,
        seconds,
    };
    diesel::update(poker_sessions::table.find(session_id))
        .set((
            poker_sessions::timer_ends_at.eq(Some(timer.ends_at)),
            poker_sessions::timer_seconds.eq(Some(timer.seconds)),
        ))
        .execute(conn)?;
    Ok(Some((version, timer)))
}

/// Stops the active story's countdown: the new version, or `None` if the story is no longer
/// active.
pub fn stop_timer(
    conn: &mut DbConnection,
    session_id: i64,
    story_id: i64,
) -> Result<Option<i64>, DbError> {
    let Some(version) = bump_if_active(conn, session_id, story_id)? else {
        return Ok(None);
    };
    clear_timer(conn, session_id)?;
    Ok(Some(version))
}

fn clear_timer(conn: &mut DbConnection, session_id: i64) -> Result<(), DbError> {
    diesel::update(poker_sessions::table.find(session_id))
        .set((
            poker_sessions::timer_ends_at.eq(None::<i64>),
            poker_sessions::timer_seconds.eq(None::<i64>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Reveals the active story's round to everyone: the new version, or `None` if the story is no
/// longer active or its round is revealed already (nothing written then).
pub fn reveal(
    conn: &mut DbConnection,
    session_id: i64,
    story_id: i64,
) -> Result<Option<i64>, DbError> {
    let hidden = |conn: &mut DbConnection| -> Result<bool, DbError> {
        Ok(stories::table
            .find(story_id)
            .select(stories::revealed)
            .first(conn)
            .optional()?
            == Some(false))
    };
    // Checked before the lock, so that a round revealed long ago counts no version ...
    if !hidden(conn)? {
        return Ok(None);
    }
    let Some(version) = bump_if_active(conn, session_id, story_id)? else {
        return Ok(None);
    };
    // ... and flipped under it: another process may have revealed the round (its countdown
    // ended there too, or its moderator asked) while this one waited for the lock. Then the
    // round is revealed once, by that process, and the version counted here is given back.
    let flipped = diesel::update(
        stories::table
            .find(story_id)
            .filter(stories::revealed.eq(false)),
    )
    .set(stories::revealed.eq(true))
    .execute(conn)?;
    if flipped == 0 {
        diesel::update(poker_sessions::table.find(session_id))
            .set(poker_sessions::version.eq(poker_sessions::version - 1))
            .execute(conn)?;
        return Ok(None);
    }
    Ok(Some(version))
}

/// [`cast_vote`] on PostgreSQL as one statement: the version bump (only while the story is
/// active, under the session row's lock), the upsert of the vote and the deletion of the
/// voter's abstention, which run only if the bump found the row. It yields the new version, or no row when the story is not active.
/// Written by hand because diesel's DSL has no data-modifying `WITH`; it has a static query id,
/// so diesel prepares it once per connection.
#[derive(diesel::query_builder::QueryId)]
struct CastVote {
    session_id: i64,
    story_id: i64,
    user_id: i64,
    choice: String,
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for CastVote {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Text};
        out.push_sql("WITH bumped AS (UPDATE poker_sessions SET version = version + 1 WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.session_id)?;
        out.push_sql(" AND active_story_id = ");
        out.push_bind_param::<BigInt, _>(&self.story_id)?;
        out.push_sql(
            " RETURNING version), voted AS (INSERT INTO votes (story_id, user_id, choice) \
             SELECT ",
        );
        out.push_bind_param::<BigInt, _>(&self.story_id)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.choice)?;
        out.push_sql(
            " FROM bumped ON CONFLICT (story_id, user_id) DO UPDATE SET choice = EXCLUDED.choice), \
             unabstained AS (DELETE FROM abstentions WHERE story_id = ",
        );
        out.push_bind_param::<BigInt, _>(&self.story_id)?;
        out.push_sql(" AND user_id = ");
        out.push_bind_param::<BigInt, _>(&self.user_id)?;
        out.push_sql(" AND EXISTS (SELECT 1 FROM bumped)) SELECT version FROM bumped");
        Ok(())
    }
}

impl diesel::query_builder::Query for CastVote {
    type SqlType = diesel::sql_types::BigInt;
}

impl RunQueryDsl<diesel::PgConnection> for CastVote {}

/// Starts the active story's round again: deletes every vote and abstention on it, hides it
/// again and stops its countdown; the new version, or `None` if it is no longer active.
pub fn clear_votes(
    conn: &mut DbConnection,
    session_id: i64,
    story_id: i64,
) -> Result<Option<i64>, DbError> {
    let Some(version) = bump_if_active(conn, session_id, story_id)? else {
        return Ok(None);
    };
    diesel::delete(votes::table.filter(votes::story_id.eq(story_id))).execute(conn)?;
    diesel::delete(abstentions::table.filter(abstentions::story_id.eq(story_id))).execute(conn)?;
    diesel::update(stories::table.find(story_id))
        .set(stories::revealed.eq(false))
        .execute(conn)?;
    clear_timer(conn, session_id)?;
    Ok(Some(version))
}

/// Sets the active story's points: the new version, or `None` if it is no longer active.
pub fn set_story_points(
    conn: &mut DbConnection,
    session_id: i64,
    story_id: i64,
    points: &str,
) -> Result<Option<i64>, DbError> {
    let Some(version) = bump_if_active(conn, session_id, story_id)? else {
        return Ok(None);
    };
    diesel::update(stories::table.find(story_id))
        .set(stories::story_points.eq(Some(points)))
        .execute(conn)?;
    Ok(Some(version))
}

/// What activating a story yields: the session's new version, the story, its votes and round.
pub type Activation = (i64, Story, Vec<VoteRow>, StoryRound);

/// Makes a story of this session the active one: the new version with the story, its votes and
/// its round, or `None` when it is not one of the session's.
pub fn activate_story(
    conn: &mut DbConnection,
    session_id: i64,
    story_id: i64,
) -> Result<Option<Activation>, DbError> {
    let of_session = |conn: &mut DbConnection| -> Result<Option<Story>, DbError> {
        Ok(stories::table
            .find(story_id)
            .filter(stories::poker_session_id.eq(session_id))
            .select(Story::as_select())
            .first(conn)
            .optional()?)
    };
    // Checked before the lock, so that a wrong id counts no version ...
    if of_session(conn)?.is_none() {
        return Ok(None);
    }
    let version = bump_version(conn, session_id)?.ok_or(DbError::NotFound)?;
    // ... and again under it: a REST edit may have moved the story away in between (rare; the
    // error rolls back the version counted above).
    let story = of_session(conn)?.ok_or_else(|| {
        DbError::Conflict(format!(
            "story {story_id} was just moved to another session"
        ))
    })?;
    set_active(conn, session_id, Some(story_id))?;
    let votes = story_votes(conn, story_id)?;
    let round = story_round(conn, story_id)?;
    Ok(Some((version, story, votes, round)))
}

/// A quick round: a new story named `ticket_number` after the session's last one, made the
/// active story at once; with the session's new version.
pub fn quick_round(
    conn: &mut DbConnection,
    session_id: i64,
    ticket_number: &str,
) -> Result<(i64, Story), DbError> {
    let version = bump_version(conn, session_id)?.ok_or(DbError::NotFound)?;
    let story = append_story(
        conn,
        session_id,
        &NewStory {
            ticket_number: ticket_number.to_string(),
            title: String::new(),
            description: String::new(),
        },
    )?;
    set_active(conn, session_id, Some(story.id))?;
    Ok((version, story))
}

/// Moves to the first story after the active one (by position) that has no points, or ends the
/// session (no active story) when none is left; with the session's new version.
pub fn advance(conn: &mut DbConnection, session_id: i64) -> Result<(i64, NextStory), DbError> {
    let version = bump_version(conn, session_id)?.ok_or(DbError::NotFound)?;
    let row = session_row(conn, session_id)?.ok_or(DbError::NotFound)?;
    let stories = session_stories(conn, session_id)?;
    let start = row
        .active_story_id
        .and_then(|active| stories.iter().position(|s| s.id == active))
        .map_or(0, |i| i + 1);
    let next = match stories
        .into_iter()
        .skip(start)
        .find(|s| s.story_points.is_none())
    {
        Some(story) => {
            set_active(conn, session_id, Some(story.id))?;
            let votes = story_votes(conn, story.id)?;
            let round = story_round(conn, story.id)?;
            NextStory::Active(story, votes, round)
        }
        None => {
            set_active(conn, session_id, None)?;
            NextStory::Ended
        }
    };
    Ok((version, next))
}
