//! The writes of a live session, as functions of a connection: they run on the [`Writer`]'s
//! connection, each inside the savepoint of a group-committed transaction.
//!
//! [`Writer`]: crate::writer::Writer

use diesel::prelude::*;

use crate::models::*;
use crate::schema::*;
use crate::store::{session_row, session_stories, set_active, story_votes};
use crate::{DbConnection, DbError};

/// Records a user's vote, replacing any earlier vote of theirs on the story (it keeps its place).
pub fn cast_vote(
    conn: &mut DbConnection,
    story_id: i64,
    user_id: i64,
    choice: &str,
) -> Result<(), DbError> {
    let updated = diesel::update(
        votes::table
            .filter(votes::story_id.eq(story_id))
            .filter(votes::user_id.eq(user_id)),
    )
    .set(votes::choice.eq(choice))
    .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(votes::table)
            .values((
                votes::story_id.eq(story_id),
                votes::user_id.eq(user_id),
                votes::choice.eq(choice),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Deletes every vote on a story.
pub fn clear_votes(conn: &mut DbConnection, story_id: i64) -> Result<(), DbError> {
    diesel::delete(votes::table.filter(votes::story_id.eq(story_id))).execute(conn)?;
    Ok(())
}

/// Sets a story's points and returns its session's stories in order.
pub fn set_story_points(
    conn: &mut DbConnection,
    story_id: i64,
    points: &str,
) -> Result<Vec<Story>, DbError> {
    let session_id: Option<i64> = diesel::update(stories::table.find(story_id))
        .set(stories::story_points.eq(Some(points)))
        .returning(stories::poker_session_id)
        .get_result(conn)
        .optional()?
        .ok_or(DbError::NotFound)?;
    match session_id {
        Some(id) => session_stories(conn, id),
        None => Ok(Vec::new()),
    }
}

/// Makes a story of this session the active one; `None` when it is not one of the session's.
pub fn activate_story(
    conn: &mut DbConnection,
    session_id: i64,
    story_id: i64,
) -> Result<Option<(Story, Vec<VoteRow>)>, DbError> {
    let story: Option<Story> = stories::table
        .find(story_id)
        .filter(stories::poker_session_id.eq(session_id))
        .select(Story::as_select())
        .first(conn)
        .optional()?;
    let Some(story) = story else {
        return Ok(None);
    };
    set_active(conn, session_id, Some(story_id))?;
    let votes = story_votes(conn, story_id)?;
    Ok(Some((story, votes)))
}

/// Moves to the first story after the active one (by position) that has no points, or ends the
/// session (no active story) when none is left.
pub fn advance(conn: &mut DbConnection, session_id: i64) -> Result<NextStory, DbError> {
    let row = session_row(conn, session_id)?.ok_or(DbError::NotFound)?;
    let stories = session_stories(conn, session_id)?;
    let start = row
        .active_story_id
        .and_then(|active| stories.iter().position(|s| s.id == active))
        .map_or(0, |i| i + 1);
    match stories
        .into_iter()
        .skip(start)
        .find(|s| s.story_points.is_none())
    {
        Some(story) => {
            set_active(conn, session_id, Some(story.id))?;
            let votes = story_votes(conn, story.id)?;
            Ok(NextStory::Active(story, votes))
        }
        None => {
            set_active(conn, session_id, None)?;
            Ok(NextStory::Ended)
        }
    }
}
