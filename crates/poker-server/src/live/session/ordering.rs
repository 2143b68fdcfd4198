//! Changes in version order. Every committed change has the session's version after it; the
//! actor applies version `v + 1` after `v`, whoever committed it:
//!
//! - a version it has already applied (or loaded) is dropped;
//! - one that comes early (another process published later than it committed) waits in
//!   `pending` for [`GAP_WAIT`]; if the missing one still has not come, the state is reloaded
//!   from the database and members get what differs;
//! - with other processes sharing the session, the version is compared with the database's
//!   now and then (often while Redis is down), which catches a last message that was lost.

use actix::prelude::*;
use poker_core::{ErrorCode, WireError};
use poker_db::{StoryRound, VoteRow};

use super::{Active, PokerSession};
use crate::live::change::SessionChange;
use crate::live::cluster::GAP_WAIT;
use crate::live::frames;
use crate::metrics;
use crate::webhooks::EventKind;
use serde_json::Value;

impl PokerSession {
    /// A write of this actor committed as `version` (`None`: it found the story it was about no
    /// longer active, and wrote nothing): other processes hear of it and members see it.
    pub(super) fn committed(
        &mut self,
        version: Option<i64>,
        change: SessionChange,
        ctx: &mut Context<Self>,
    ) -> Result<(), WireError> {
        let Some(version) = version else {
            // Someone (elsewhere) changed the story first: this state is behind.
            self.catch_up("stale", ctx);
            return Err(WireError::new(
                ErrorCode::Invalid,
                "the active story changed meanwhile; nothing was saved",
            ));
        };
        self.cluster.publish_change(self.id, version, &change);
        // Here and not in `apply`: every process applies the change, only this one made it.
        self.fire_webhooks(&change);
        let _ = self.deliver(version, change, ctx);
        Ok(())
    }

    /// Queues the webhook event of a change this actor committed, if it has one.
    fn fire_webhooks(&self, change: &SessionChange) {
        let hooks = &self.config.webhooks;
        match change {
            SessionChange::Points { story_id, points } => {
                let story = self
                    .state
                    .as_ref()
                    .and_then(|s| s.stories.iter().find(|s| s.id == *story_id));
                if let Some(story) = story {
                    let data = crate::webhooks::points_set(story, points);
                    hooks.fire(EventKind::PointsSet, self.id, data);
                }
            }
            // The worker reads the stories and their points.
            SessionChange::Ended => hooks.fire(EventKind::SessionEnded, self.id, Value::Null),
            _ => {}
        }
    }

    /// Applies a committed change in its place in the order; says what became of it
    /// (`applied`, `duplicate` or `buffered`, as `poker_backplane_received_total` counts).
    pub(super) fn deliver(
        &mut self,
        version: i64,
        change: SessionChange,
        ctx: &mut Context<Self>,
    ) -> &'static str {
        if self.state.is_none() || version <= self.version {
            // Already applied, or not loaded (or suspect): the coming load reads it.
            return "duplicate";
        }
        if version > self.version + 1 {
            log::debug!(
                "session {}: version {version} came before {}; waiting for it",
                self.id,
                self.version + 1
            );
            self.pending.insert(version, change);
            self.await_gap(ctx);
            return "buffered";
        }
        self.version = version;
        self.apply(change, ctx);
        self.drain(ctx);
        "applied"
    }

    /// Applies the pending changes that are next in order; drops those already applied.
    pub(super) fn drain(&mut self, ctx: &mut Context<Self>) {
        while self.state.is_some() {
            let next = self.version + 1;
            self.pending = self.pending.split_off(&next);
            let Some(change) = self.pending.remove(&next) else {
                break;
            };
            self.version = next;
            self.apply(change, ctx);
        }
        if self.pending.is_empty() {
            if let Some(timer) = self.gap_timer.take() {
                ctx.cancel_future(timer);
            }
            if !self.deferred.is_empty() {
                ctx.notify(super::RunDeferred);
            }
        }
    }

    fn await_gap(&mut self, ctx: &mut Context<Self>) {
        if self.gap_timer.is_some() {
            return;
        }
        self.gap_timer = Some(ctx.run_later(GAP_WAIT, |act, ctx| {
            act.gap_timer = None;
            if !act.pending.is_empty() {
                log::warn!(
                    "session {}: version {} never came; reloading",
                    act.id,
                    act.version + 1
                );
                act.catch_up("gap", ctx);
            }
        }));
    }

    /// Reloads the state from the database and tells members what differs.
    pub(super) fn catch_up(&mut self, reason: &'static str, ctx: &mut Context<Self>) {
        metrics::backplane_reload(reason);
        self.suspect_state(ctx);
        if self.store.writer_problem().is_some() {
            // The periodic reload takes over once the database answers.
            return;
        }
        self.reload(ctx, true, |_, _, _| {});
    }

    /// With other processes sharing the session: compares the version with the database's
    /// when it is time, and catches up if the database is ahead.
    pub(super) fn check_version(&mut self, ctx: &mut Context<Self>) {
        let Some(every) = self.cluster.version_check_every() else {
            return;
        };
        if self.version_checked.elapsed() < every || self.state.is_none() {
            return;
        }
        self.version_checked = std::time::Instant::now();
        let (store, id) = (self.store.clone(), self.id);
        let read = actix_web::web::block(move || store.session_version(id));
        ctx.spawn(read.into_actor(self).map(|result, act, ctx| match result {
            Ok(Ok(Some(stored))) if stored > act.version && act.state.is_some() => {
                log::info!(
                    "session {}: the database is at version {stored}, this process at {}; \
                     catching up",
                    act.id,
                    act.version
                );
                act.catch_up("version_check", ctx);
            }
            Ok(Ok(None)) => act.catch_up("version_check", ctx),
            _ => {}
        }));
    }

    /// What a change does to the state and who hears of it.
    fn apply(&mut self, change: SessionChange, ctx: &mut Context<Self>) {
        match change {
            SessionChange::Voted { story_id, vote } => {
                let Some(active) = self.active_for(story_id) else {
                    return;
                };
                active.round.abstained.retain(|a| a.user_id != vote.user_id);
                match active.votes.iter_mut().find(|v| v.user_id == vote.user_id) {
                    Some(existing) => existing.choice = vote.choice,
                    None => active.votes.push(VoteRow { ..vote }),
                }
                self.broadcast_story(ctx);
            }
            SessionChange::Abstained {
                story_id,
                abstention,
            } => {
                let Some(active) = self.active_for(story_id) else {
                    return;
                };
                active.votes.retain(|v| v.user_id != abstention.user_id);
                if !active
                    .round
                    .abstained
                    .iter()
                    .any(|a| a.user_id == abstention.user_id)
                {
                    active.round.abstained.push(abstention);
                }
                self.broadcast_story(ctx);
            }
            SessionChange::TimerStarted { story_id, timer } => {
                if self.active_for(story_id).is_some() {
                    self.set_timer(Some(timer), ctx);
                }
            }
            SessionChange::TimerStopped { story_id } => {
                if self.active_for(story_id).is_some() {
                    self.set_timer(None, ctx);
                }
            }
            SessionChange::Revealed { story_id } => {
                let Some(active) = self.active_for(story_id) else {
                    return;
                };
                active.round.revealed = true;
                self.broadcast_story(ctx);
            }
            SessionChange::Reset { story_id } => {
                let Some(active) = self.active_for(story_id) else {
                    return;
                };
                active.votes.clear();
                active.round = StoryRound::default();
                self.set_timer(None, ctx);
                self.broadcast_story(ctx);
            }
            SessionChange::Points { story_id, points } => {
                if let Some(active) = self.active_for(story_id) {
                    active.story.story_points = Some(points.clone());
                }
                if let Some(state) = &mut self.state {
                    if let Some(story) = state.stories.iter_mut().find(|s| s.id == story_id) {
                        story.story_points = Some(points.clone());
                    }
                }
                self.broadcast(&frames::points_submitted(&points), ctx);
                self.broadcast_stories(ctx);
            }
            SessionChange::Activated {
                story,
                votes,
                round,
            } => {
                self.set_active(Some(Active {
                    story,
                    votes,
                    round,
                }));
                self.set_timer(None, ctx);
                self.broadcast_story(ctx);
            }
            SessionChange::QuickRound { story } => {
                if let Some(state) = &mut self.state {
                    if !state.stories.iter().any(|s| s.id == story.id) {
                        state.stories.push(story.clone());
                    }
                }
                self.set_active(Some(Active {
                    story,
                    votes: Vec::new(),
                    round: StoryRound::default(),
                }));
                self.set_timer(None, ctx);
                self.broadcast_story(ctx);
                self.broadcast_stories(ctx);
            }
            SessionChange::Ended => {
                self.set_active(None);
                self.set_timer(None, ctx);
                let event = frames::session_ended(&self.config.end_redirect_url);
                self.broadcast(&event, ctx);
            }
            SessionChange::Edited { story, stories } => self.refresh(ctx, move |act, ctx| {
                if story {
                    act.broadcast_story(ctx);
                }
                if stories {
                    act.broadcast_stories(ctx);
                }
            }),
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

    /// The active story, if it is `story_id`.
    fn active_for(&mut self, story_id: i64) -> Option<&mut Active> {
        self.active_mut().filter(|a| a.story.id == story_id)
    }
}
