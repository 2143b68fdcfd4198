//! What each client event does to a live session (PROTOCOL.md "Frames from the client"): rights
//! first (the member's current rights), then the data, then the state; changes are saved before
//! they are announced.

use actix::prelude::*;
use poker_core::{ClientCommand, ErrorCode, EventName, WireError};
use poker_db::{live, Abstention, NextStory, VoteRow};

use super::PokerSession;
use crate::live::change::SessionChange;
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
    /// Under `reveal = moderator` with `auto_reveal`: once every voter present (in every
    /// process) has voted or abstained, the server reveals the round by itself. `conn` is the
    /// socket whose event (or departure) made it so; it hears of a failed write.
    pub(super) fn auto_reveal(&mut self, conn: ConnId, ctx: &mut Context<Self>) {
        let Some(state) = &self.state else {
            return;
        };
        let Some(active) = &state.active else {
            return;
        };
        if state.reveal != poker_core::RevealMode::Moderator
            || !state.auto_reveal
            || active.round.revealed
        {
            return;
        }
        let mut voters = self
            .presence
            .users()
            .chain(self.remote.iter())
            .filter(|u| u.can_vote)
            .peekable();
        if voters.peek().is_none() || !voters.all(|u| active.is_done(u.id)) {
            return;
        }
        drop(voters);
        self.server_reveal(conn, "auto_reveal", ctx);
    }

    /// The server reveals the active story's round by itself (`auto_reveal`, a countdown that
    /// ran out). `conn` hears of a failed write.
    pub(super) fn server_reveal(
        &mut self,
        conn: ConnId,
        why: &'static str,
        ctx: &mut Context<Self>,
    ) {
        let Some(story_id) = self
            .state
            .as_ref()
            .and_then(|s| s.active.as_ref())
            .map(|a| a.story.id)
        else {
            return;
        };
        let session_id = self.id;
        self.persist(
            ctx,
            conn,
            why,
            move |c| live::reveal(c, session_id, story_id),
            move |act, version, ctx| match version {
                Some(version) => {
                    act.committed(Some(version), SessionChange::Revealed { story_id }, ctx)
                }
                // Revealed already (elsewhere), or the story moved on: nothing to do here.
                None => Ok(()),
            },
        );
    }

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
                act.unavailable(conn, event.as_str(), ctx);
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
        self.refuse(conn, event.as_str(), error, ctx);
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
                let vote = VoteRow {
                    user_id: user.id,
                    username: user.name.clone(),
                    choice: choice.as_str().to_string(),
                };
                let saved = vote.clone();
                let write = self.store.write_statement(session_id, move |c| {
                    live::cast_vote(c, session_id, story_id, saved.user_id, &saved.choice)
                });
                self.persist_with(ctx, conn, name, write, move |act, version, ctx| {
                    act.committed(version, SessionChange::Voted { story_id, vote }, ctx)?;
                    act.auto_reveal(conn, ctx);
                    Ok(())
                });
            }
            ClientCommand::Abstain => {
                let Some(active) = &state.active else {
                    return self.reject(conn, event, no_active(), ctx);
                };
                let story_id = active.story.id;
                let abstention = Abstention {
                    user_id: user.id,
                    username: user.name.clone(),
                };
                let user_id = user.id;
                self.persist(
                    ctx,
                    conn,
                    name,
                    move |c| live::abstain(c, session_id, story_id, user_id),
                    move |act, version, ctx| {
                        let change = SessionChange::Abstained {
                            story_id,
                            abstention,
                        };
                        act.committed(version, change, ctx)?;
                        act.auto_reveal(conn, ctx);
                        Ok(())
                    },
                );
            }
            ClientCommand::QuickRoundRequested { ticket_number } => {
                let ticket = ticket_number.unwrap_or_else(crate::live::quick_round_name);
                self.persist(
                    ctx,
                    conn,
                    name,
                    move |c| live::quick_round(c, session_id, &ticket),
                    |act, (version, story), ctx| {
                        act.committed(Some(version), SessionChange::QuickRound { story }, ctx)
                    },
                );
            }
            ClientCommand::TimerStartRequested { seconds } => {
                let Some(active) = &state.active else {
                    return self.reject(conn, event, no_active(), ctx);
                };
                let story_id = active.story.id;
                let now = chrono::Utc::now().timestamp_millis();
                self.persist(
                    ctx,
                    conn,
                    name,
                    move |c| live::start_timer(c, session_id, story_id, seconds, now),
                    move |act, started, ctx| match started {
                        Some((version, timer)) => act.committed(
                            Some(version),
                            SessionChange::TimerStarted { story_id, timer },
                            ctx,
                        ),
                        None => act.committed(None, SessionChange::TimerStopped { story_id }, ctx),
                    },
                );
            }
            ClientCommand::TimerStopRequested => {
                let Some(active) = &state.active else {
                    return self.reject(conn, event, no_active(), ctx);
                };
                if state.timer.is_none() {
                    // Nothing runs: the sender hears so.
                    metrics::event(name, "ok");
                    // (ours): a socket of the original's dialect hears nothing.
                    let event = poker_core::ServerEvent::TimerStopped {};
                    if self
                        .presence
                        .get(conn)
                        .is_some_and(|m| m.dialect.receives(&event))
                    {
                        self.send(conn, crate::live::frames::encode(&event), ctx);
                    }
                    return;
                }
                let story_id = active.story.id;
                self.persist(
                    ctx,
                    conn,
                    name,
                    move |c| live::stop_timer(c, session_id, story_id),
                    move |act, version, ctx| {
                        act.committed(version, SessionChange::TimerStopped { story_id }, ctx)
                    },
                );
            }
            ClientCommand::RevealRequested => {
                let Some(active) = &state.active else {
                    return self.reject(conn, event, no_active(), ctx);
                };
                if active.round.revealed {
                    // Nothing to change: the sender hears how things stand.
                    metrics::event(name, "ok");
                    return self.send_story(&[conn], ctx);
                }
                let story_id = active.story.id;
                self.persist(
                    ctx,
                    conn,
                    name,
                    move |c| live::reveal(c, session_id, story_id),
                    move |act, version, ctx| {
                        act.committed(version, SessionChange::Revealed { story_id }, ctx)
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
                    move |c| live::clear_votes(c, session_id, story_id),
                    move |act, version, ctx| {
                        act.committed(version, SessionChange::Reset { story_id }, ctx)
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
                let points = points.as_str().to_string();
                let saved = points.clone();
                self.persist(
                    ctx,
                    conn,
                    name,
                    move |c| live::set_story_points(c, session_id, story_id, &saved),
                    move |act, version, ctx| {
                        act.committed(version, SessionChange::Points { story_id, points }, ctx)
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
                        Some((version, story, votes, round)) => act.committed(
                            Some(version),
                            SessionChange::Activated {
                                story,
                                votes,
                                round,
                            },
                            ctx,
                        ),
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
                    |act, (version, next), ctx| {
                        let change = match next {
                            NextStory::Active(story, votes, round) => SessionChange::Activated {
                                story,
                                votes,
                                round,
                            },
                            NextStory::Ended => SessionChange::Ended,
                        };
                        act.committed(Some(version), change, ctx)
                    },
                );
            }
        }
    }
}
