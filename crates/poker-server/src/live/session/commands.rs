//! What each client event does to a live session (PROTOCOL.md "Frames from the client"): rights
//! first (the member's current rights), then the data, then the state; changes are saved before
//! they are announced.

use actix::prelude::*;
use poker_core::{ClientCommand, ErrorCode, EventName, WireError};
use poker_db::{live, NextStory, VoteRow};

use super::{Active, PokerSession};
use crate::live::frames;
use crate::live::messages::ConnId;
use crate::metrics;

fn invalid(message: String) -> WireError {
    WireError::new(ErrorCode::Invalid, message)
}

fn no_active() -> WireError {
    WireError::new(
        ErrorCode::NoActiveStory,
        "no story is active in this session",
    )
}

impl PokerSession {
    /// Handles one client event of socket `conn`, once the state is loaded.
    pub(super) fn command(
        &mut self,
        conn: ConnId,
        event: EventName,
        parsed: Result<ClientCommand, WireError>,
        ctx: &mut Context<Self>,
    ) {
        let Some(user) = self.presence.get(conn).map(|m| m.user.clone()) else {
            return;
        };
        // Rights before data: a spectator sending a malformed vote hears `forbidden`.
        if let Some(permission) = event.permission() {
            if !user.has(permission) {
                let message = format!(
                    "{} needs the right to {}",
                    event.as_str(),
                    permission.as_str()
                );
                return self.reject(
                    conn,
                    event,
                    WireError::new(ErrorCode::Forbidden, message),
                    ctx,
                );
            }
        }
        let command = match parsed {
            Ok(command) => command,
            Err(e) => return self.reject(conn, event, e, ctx),
        };
        self.with_state(ctx, move |act, loaded, ctx| {
            if loaded {
                act.run(conn, event, command, ctx);
            } else {
                metrics::event(event.as_str(), ErrorCode::Unavailable.as_str());
                act.unavailable(conn, ctx);
            }
        });
    }

    pub(super) fn reject(
        &mut self,
        conn: ConnId,
        event: EventName,
        error: WireError,
        ctx: &mut Context<Self>,
    ) {
        metrics::event(event.as_str(), error.code.as_str());
        self.refuse(conn, error, ctx);
    }

    fn run(
        &mut self,
        conn: ConnId,
        event: EventName,
        command: ClientCommand,
        ctx: &mut Context<Self>,
    ) {
        let (Some(state), Some(member)) = (&self.state, self.presence.get(conn)) else {
            return;
        };
        let user = member.user.clone();
        let session_id = self.id;
        let name = event.as_str();
        match command {
            ClientCommand::Heartbeat => {}
            ClientCommand::VoteSubmitted { choice } => {
                let Some(active) = &state.active else {
                    return self.reject(conn, event, no_active(), ctx);
                };
                let Some(choice) = state.deck.choice(&choice) else {
                    let message = format!("{choice} is not an option of this session's deck");
                    return self.reject(conn, event, invalid(message), ctx);
                };
                let story_id = active.story.id;
                let saved = choice.as_str().to_string();
                let user_id = user.id;
                self.persist(
                    ctx,
                    conn,
                    name,
                    move |c| live::cast_vote(c, story_id, user_id, &saved),
                    move |act, (), ctx| {
                        if let Some(active) = act.active_mut() {
                            let choice = choice.as_str().to_string();
                            match active.votes.iter_mut().find(|v| v.user_id == user.id) {
                                Some(vote) => vote.choice = choice,
                                None => active.votes.push(VoteRow {
                                    user_id: user.id,
                                    username: user.name.clone(),
                                    choice,
                                }),
                            }
                        }
                        act.broadcast_story(ctx);
                        Ok(())
                    },
                );
            }
            ClientCommand::ResetRequested => {
                let Some(active) = &state.active else {
                    return self.reject(conn, event, no_active(), ctx);
                };
                let story_id = active.story.id;
                self.persist(
                    ctx,
                    conn,
                    name,
                    move |c| live::clear_votes(c, story_id),
                    |act, (), ctx| {
                        if let Some(active) = act.active_mut() {
                            active.votes.clear();
                        }
                        act.broadcast_story(ctx);
                        Ok(())
                    },
                );
            }
            ClientCommand::PointsSubmitted { story_points } => {
                let Some(active) = &state.active else {
                    return self.reject(conn, event, no_active(), ctx);
                };
                let Some(points) = state.deck.story_points(&story_points) else {
                    let message =
                        format!("{story_points} is not a point option of this session's deck");
                    return self.reject(conn, event, invalid(message), ctx);
                };
                let story_id = active.story.id;
                let saved = points.as_str().to_string();
                self.persist(
                    ctx,
                    conn,
                    name,
                    move |c| live::set_story_points(c, story_id, &saved),
                    move |act, stories, ctx| {
                        if let Some(state) = &mut act.state {
                            if let Some(active) = &mut state.active {
                                active.story.story_points = Some(points.as_str().to_string());
                            }
                            state.stories = stories;
                        }
                        act.broadcast(&frames::points_submitted(&points), ctx);
                        act.broadcast_stories(ctx);
                        Ok(())
                    },
                );
            }
            ClientCommand::NextStoryRequested {
                story_id: Some(story_id),
            } => {
                self.persist(
                    ctx,
                    conn,
                    name,
                    move |c| live::activate_story(c, session_id, story_id),
                    move |act, found, ctx| match found {
                        Some((story, votes)) => {
                            act.set_active(Some(Active { story, votes }));
                            act.broadcast_story(ctx);
                            Ok(())
                        }
                        None => Err(invalid(format!(
                            "story {story_id} is not a story of this session"
                        ))),
                    },
                );
            }
            ClientCommand::NextStoryRequested { story_id: None } => {
                self.persist(
                    ctx,
                    conn,
                    name,
                    move |c| live::advance(c, session_id),
                    |act, next, ctx| match next {
                        NextStory::Active(story, votes) => {
                            act.set_active(Some(Active { story, votes }));
                            act.broadcast_story(ctx);
                            Ok(())
                        }
                        NextStory::Ended => {
                            act.set_active(None);
                            let event = frames::session_ended(&act.config.end_redirect_url);
                            act.broadcast(&event, ctx);
                            Ok(())
                        }
                    },
                );
            }
        }
    }

    fn active_mut(&mut self) -> Option<&mut Active> {
        self.state.as_mut().and_then(|s| s.active.as_mut())
    }

    fn set_active(&mut self, active: Option<Active>) {
        if let Some(state) = &mut self.state {
            state.active = active;
        }
    }
}
