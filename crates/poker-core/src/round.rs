//! A round of voting on the active story: when its votes are shown (the session's reveal rule,
//! the round's `revealed` flag) and who may see them before that (PROTOCOL.md, "Votes stay
//! secret on the server", and the README's "Reveal and abstaining").

use std::fmt;
use std::str::FromStr;

/// When the votes of a round are shown to those who can vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevealMode {
    /// A voter sees the votes once they have voted (or abstained): the original's rule.
    #[default]
    AfterOwnVote,
    /// Nobody who can vote sees a vote until the round is revealed: by the moderator
    /// (`reveal_requested`), or by the server once every present voter is done (`auto_reveal`).
    Moderator,
}

impl RevealMode {
    pub const ALL: [RevealMode; 2] = [RevealMode::AfterOwnVote, RevealMode::Moderator];

    pub fn as_str(self) -> &'static str {
        match self {
            RevealMode::AfterOwnVote => "after_own_vote",
            RevealMode::Moderator => "moderator",
        }
    }
}

impl fmt::Display for RevealMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reveal rule that is neither `after_own_vote` nor `moderator`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reveal must be \"after_own_vote\" or \"moderator\"")]
pub struct UnknownRevealMode;

impl FromStr for RevealMode {
    type Err = UnknownRevealMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RevealMode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == s)
            .ok_or(UnknownRevealMode)
    }
}

/// What decides whether one recipient sees the votes of a story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secrecy {
    /// The session's `secret_votes` (under `after_own_vote`; `false` shows every vote at once).
    pub secret_votes: bool,
    pub reveal: RevealMode,
    /// The round was revealed (by the moderator or the server).
    pub revealed: bool,
}

/// Someone looking at a story's votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub can_vote: bool,
    /// Has voted or abstained on this story.
    pub done: bool,
}

impl Secrecy {
    /// Whether `viewer` sees the votes of a story (`active`: it is the session's active one).
    /// Always for a story that is not active, a revealed round, and those who cannot vote
    /// (moderators, spectators, as in the original's role table). Otherwise by the rule:
    /// `after_own_vote` once the viewer is done (or at once without `secret_votes`);
    /// `moderator` not before the reveal.
    pub fn shows_votes(&self, active: bool, viewer: Viewer) -> bool {
        if !active || self.revealed || !viewer.can_vote {
            return true;
        }
        match self.reveal {
            RevealMode::AfterOwnVote => !self.secret_votes || viewer.done,
            RevealMode::Moderator => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOTER: Viewer = Viewer {
        can_vote: true,
        done: false,
    };
    const DONE: Viewer = Viewer {
        can_vote: true,
        done: true,
    };
    const WATCHER: Viewer = Viewer {
        can_vote: false,
        done: false,
    };

    fn rule(secret_votes: bool, reveal: RevealMode, revealed: bool) -> Secrecy {
        Secrecy {
            secret_votes,
            reveal,
            revealed,
        }
    }

    #[test]
    fn after_own_vote_is_the_originals_rule() {
        let secret = rule(true, RevealMode::AfterOwnVote, false);
        assert!(!secret.shows_votes(true, VOTER));
        assert!(secret.shows_votes(true, DONE));
        assert!(secret.shows_votes(true, WATCHER), "moderators, spectators");
        assert!(
            secret.shows_votes(false, VOTER),
            "a story that is not active"
        );
        assert!(rule(false, RevealMode::AfterOwnVote, false).shows_votes(true, VOTER));
        assert!(rule(true, RevealMode::AfterOwnVote, true).shows_votes(true, VOTER));
    }

    #[test]
    fn moderator_reveal_hides_every_vote_from_voters_until_revealed() {
        for secret_votes in [true, false] {
            let hidden = rule(secret_votes, RevealMode::Moderator, false);
            assert!(!hidden.shows_votes(true, VOTER));
            assert!(!hidden.shows_votes(true, DONE), "not even after voting");
            assert!(hidden.shows_votes(true, WATCHER));
            assert!(hidden.shows_votes(false, DONE));
            assert!(rule(secret_votes, RevealMode::Moderator, true).shows_votes(true, VOTER));
        }
    }

    #[test]
    fn reveal_modes_parse_from_their_names_only() {
        for mode in RevealMode::ALL {
            assert_eq!(mode.as_str().parse::<RevealMode>(), Ok(mode));
            assert_eq!(
                serde_json::to_value(mode).unwrap(),
                serde_json::json!(mode.as_str())
            );
        }
        assert_eq!("Moderator".parse::<RevealMode>(), Err(UnknownRevealMode));
        assert_eq!(RevealMode::default(), RevealMode::AfterOwnVote);
    }
}
