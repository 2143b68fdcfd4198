//! The WebSocket wire format of PROTOCOL.md section 2.
//!
//! Client frames are parsed in two steps so rights are checked before data: the envelope gives
//! the [`EventName`] (whose [`Permission`] the caller checks), then [`EventName::parse_data`]
//! gives the typed [`ClientCommand`].

use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use crate::events::ServerEvent;

/// The `code` of an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest,
    UnknownEvent,
    Invalid,
    Forbidden,
    NoActiveStory,
    RateLimited,
    Unavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownEvent => "unknown_event",
            ErrorCode::Invalid => "invalid",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NoActiveStory => "no_active_story",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A refused client frame: what goes back in the `error` frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{}: {message}", code.as_str())]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError {
            code,
            message: message.into(),
        }
    }

    /// The `error` frame for this refusal.
    pub fn to_frame(&self) -> String {
        ServerEvent::Error(self.clone()).to_frame()
    }
}

/// A right a client event needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Vote,
    Moderate,
}

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Vote => "vote",
            Permission::Moderate => "moderate",
        }
    }
}

/// The events a client may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    VoteSubmitted,
    ResetRequested,
    PointsSubmitted,
    NextStoryRequested,
    Heartbeat,
    /// (ours) Show the round's votes to everyone.
    RevealRequested,
    /// (ours) "I'm not voting on this one."
    Abstain,
    /// (ours) A round without a story: the server makes one.
    QuickRoundRequested,
    /// (ours) Start (or restart) the round's countdown.
    TimerStartRequested,
    /// (ours) Stop the round's countdown.
    TimerStopRequested,
}

/// A client event with its data parsed (deck membership is checked by the session, which knows the deck).
#[derive(Debug, Clone, PartialEq)]
pub enum ClientCommand {
    /// The raw choice: a string or a number naming a deck option.
    VoteSubmitted {
        choice: Value,
    },
    ResetRequested,
    /// The raw points: a string or a number naming a point option.
    PointsSubmitted {
        story_points: Value,
    },
    NextStoryRequested {
        story_id: Option<i64>,
    },
    Heartbeat,
    RevealRequested,
    Abstain,
    /// The new story's ticket number, if the client names it (else the server's clock does).
    QuickRoundRequested {
        ticket_number: Option<String>,
    },
    /// Seconds to count down: an integer from 1 to [`MAX_TIMER_SECONDS`].
    TimerStartRequested {
        seconds: i64,
    },
    TimerStopRequested,
}

/// The longest countdown a round may have: an hour.
pub const MAX_TIMER_SECONDS: i64 = 3600;

impl EventName {
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::VoteSubmitted => "vote_submitted",
            EventName::ResetRequested => "reset_requested",
            EventName::PointsSubmitted => "points_submitted",
            EventName::NextStoryRequested => "next_story_requested",
            EventName::Heartbeat => "heartbeat",
            EventName::RevealRequested => "reveal_requested",
            EventName::Abstain => "abstain",
            EventName::QuickRoundRequested => "quick_round_requested",
            EventName::TimerStartRequested => "timer_start_requested",
            EventName::TimerStopRequested => "timer_stop_requested",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "vote_submitted" => EventName::VoteSubmitted,
            "reset_requested" => EventName::ResetRequested,
            "points_submitted" => EventName::PointsSubmitted,
            "next_story_requested" => EventName::NextStoryRequested,
            "heartbeat" => EventName::Heartbeat,
            "reveal_requested" => EventName::RevealRequested,
            "abstain" => EventName::Abstain,
            "quick_round_requested" => EventName::QuickRoundRequested,
            "timer_start_requested" => EventName::TimerStartRequested,
            "timer_stop_requested" => EventName::TimerStopRequested,
            _ => return None,
        })
    }

    /// The right this event needs, if any.
    pub fn permission(self) -> Option<Permission> {
        match self {
            EventName::VoteSubmitted | EventName::Abstain => Some(Permission::Vote),
            EventName::ResetRequested
            | EventName::PointsSubmitted
            | EventName::NextStoryRequested
            | EventName::RevealRequested
            | EventName::QuickRoundRequested
            | EventName::TimerStartRequested
            | EventName::TimerStopRequested => Some(Permission::Moderate),
            EventName::Heartbeat => None,
        }
    }

    /// Parses the envelope `{"event": NAME, "data": {...}}` of a text frame.
    pub fn parse_envelope(text: &str) -> Result<(EventName, Value), WireError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| WireError::new(ErrorCode::BadRequest, format!("malformed JSON: {e}")))?;
        let Value::Object(mut object) = value else {
            return Err(WireError::new(
                ErrorCode::BadRequest,
                "a frame must be a JSON object",
            ));
        };
        let name = match object.get("event") {
            Some(Value::String(name)) => name.clone(),
            Some(_) => {
                return Err(WireError::new(
                    ErrorCode::BadRequest,
                    "\"event\" must be a string",
                ))
            }
            None => {
                return Err(WireError::new(
                    ErrorCode::BadRequest,
                    "the frame has no \"event\"",
                ))
            }
        };
        let event = EventName::from_name(&name).ok_or_else(|| {
            let shown: String = name.chars().take(64).collect();
            WireError::new(ErrorCode::UnknownEvent, format!("unknown event {shown:?}"))
        })?;
        let data = object.remove("data").unwrap_or(Value::Null);
        Ok((event, data))
    }

    /// Parses the `data` of this event into a command; wrong shapes or types are `invalid`.
    pub fn parse_data(self, data: Value) -> Result<ClientCommand, WireError> {
        let invalid = |msg: &str| WireError::new(ErrorCode::Invalid, msg.to_string());
        let object = match data {
            Value::Null => serde_json::Map::new(),
            Value::Object(object) => object,
            _ => return Err(invalid("\"data\" must be an object")),
        };
        Ok(match self {
            EventName::VoteSubmitted => match object.get("choice") {
                Some(choice @ (Value::String(_) | Value::Number(_))) => {
                    ClientCommand::VoteSubmitted {
                        choice: choice.clone(),
                    }
                }
                Some(_) => return Err(invalid("\"choice\" must be a string")),
                None => return Err(invalid("vote_submitted needs data.choice")),
            },
            EventName::ResetRequested => ClientCommand::ResetRequested,
            EventName::PointsSubmitted => match object.get("story_points") {
                Some(points @ (Value::String(_) | Value::Number(_))) => {
                    ClientCommand::PointsSubmitted {
                        story_points: points.clone(),
                    }
                }
                Some(_) => return Err(invalid("\"story_points\" must be a string or a number")),
                None => return Err(invalid("points_submitted needs data.story_points")),
            },
            EventName::NextStoryRequested => match object.get("story_id") {
                None | Some(Value::Null) => ClientCommand::NextStoryRequested { story_id: None },
                Some(Value::Number(n)) => match n.as_i64() {
                    Some(id) => ClientCommand::NextStoryRequested { story_id: Some(id) },
                    None => return Err(invalid("\"story_id\" must be an integer or null")),
                },
                Some(_) => return Err(invalid("\"story_id\" must be an integer or null")),
            },
            EventName::Heartbeat => ClientCommand::Heartbeat,
            EventName::RevealRequested => ClientCommand::RevealRequested,
            EventName::Abstain => ClientCommand::Abstain,
            EventName::QuickRoundRequested => match object.get("ticket_number") {
                None | Some(Value::Null) => ClientCommand::QuickRoundRequested {
                    ticket_number: None,
                },
                Some(Value::String(name)) => ClientCommand::QuickRoundRequested {
                    ticket_number: Some(
                        crate::fields::ticket_number(name)
                            .map_err(|e| WireError::new(ErrorCode::Invalid, e.to_string()))?,
                    ),
                },
                Some(_) => return Err(invalid("\"ticket_number\" must be a string")),
            },
            EventName::TimerStartRequested => match object.get("seconds") {
                Some(Value::Number(n)) => match n.as_i64() {
                    Some(seconds) if (1..=MAX_TIMER_SECONDS).contains(&seconds) => {
                        ClientCommand::TimerStartRequested { seconds }
                    }
                    _ => {
                        return Err(invalid(&format!(
                            "\"seconds\" must be a whole number from 1 to {MAX_TIMER_SECONDS}"
                        )))
                    }
                },
                Some(_) => return Err(invalid("\"seconds\" must be a number")),
                None => return Err(invalid("timer_start_requested needs data.seconds")),
            },
            EventName::TimerStopRequested => ClientCommand::TimerStopRequested,
        })
    }
}

impl ClientCommand {
    /// The event this command was sent as.
    pub fn event(&self) -> EventName {
        match self {
            ClientCommand::VoteSubmitted { .. } => EventName::VoteSubmitted,
            ClientCommand::ResetRequested => EventName::ResetRequested,
            ClientCommand::PointsSubmitted { .. } => EventName::PointsSubmitted,
            ClientCommand::NextStoryRequested { .. } => EventName::NextStoryRequested,
            ClientCommand::Heartbeat => EventName::Heartbeat,
            ClientCommand::RevealRequested => EventName::RevealRequested,
            ClientCommand::Abstain => EventName::Abstain,
            ClientCommand::QuickRoundRequested { .. } => EventName::QuickRoundRequested,
            ClientCommand::TimerStartRequested { .. } => EventName::TimerStartRequested,
            ClientCommand::TimerStopRequested => EventName::TimerStopRequested,
        }
    }

    /// The client frame `{"event": NAME, "data": {...}}` that parses back into this command
    /// (for clients written in Rust, such as the benchmark, and for round-trip checks).
    pub fn to_frame(&self) -> String {
        let data = match self {
            ClientCommand::VoteSubmitted { choice } => json!({ "choice": choice }),
            ClientCommand::ResetRequested
            | ClientCommand::Heartbeat
            | ClientCommand::RevealRequested
            | ClientCommand::Abstain
            | ClientCommand::TimerStopRequested => json!({}),
            ClientCommand::TimerStartRequested { seconds } => json!({ "seconds": seconds }),
            ClientCommand::PointsSubmitted { story_points } => {
                json!({ "story_points": story_points })
            }
            ClientCommand::NextStoryRequested { story_id } => json!({ "story_id": story_id }),
            ClientCommand::QuickRoundRequested { ticket_number } => match ticket_number {
                Some(name) => json!({ "ticket_number": name }),
                None => json!({}),
            },
        };
        json!({"event": self.event().as_str(), "data": data}).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> ErrorCode {
        match EventName::parse_envelope(text) {
            Ok((event, data)) => event.parse_data(data).unwrap_err().code,
            Err(e) => e.code,
        }
    }

    #[test]
    fn envelope_errors_are_bad_request_or_unknown_event() {
        assert_eq!(code("{"), ErrorCode::BadRequest);
        assert_eq!(code("[1]"), ErrorCode::BadRequest);
        assert_eq!(code("\"vote_submitted\""), ErrorCode::BadRequest);
        assert_eq!(code("{}"), ErrorCode::BadRequest);
        assert_eq!(code(r#"{"event": 5}"#), ErrorCode::BadRequest);
        assert_eq!(code(r#"{"event": "dance"}"#), ErrorCode::UnknownEvent);
    }

    #[test]
    fn data_errors_are_invalid() {
        assert_eq!(code(r#"{"event": "vote_submitted"}"#), ErrorCode::Invalid);
        assert_eq!(
            code(r#"{"event": "vote_submitted", "data": {"choice": []}}"#),
            ErrorCode::Invalid
        );
        assert_eq!(
            code(r#"{"event": "vote_submitted", "data": "3"}"#),
            ErrorCode::Invalid
        );
        assert_eq!(
            code(r#"{"event": "points_submitted", "data": {}}"#),
            ErrorCode::Invalid
        );
        assert_eq!(
            code(r#"{"event": "next_story_requested", "data": {"story_id": "7"}}"#),
            ErrorCode::Invalid
        );
        assert_eq!(
            code(r#"{"event": "next_story_requested", "data": {"story_id": 1.5}}"#),
            ErrorCode::Invalid
        );
        assert_eq!(
            code(r#"{"event": "quick_round_requested", "data": {"ticket_number": 3}}"#),
            ErrorCode::Invalid
        );
        assert_eq!(
            code(r#"{"event": "quick_round_requested", "data": {"ticket_number": ""}}"#),
            ErrorCode::Invalid
        );
        for seconds in ["0", "3601", "1.5", "\"60\"", "-5"] {
            let frame = format!(
                r#"{{"event": "timer_start_requested", "data": {{"seconds": {seconds}}}}}"#
            );
            assert_eq!(code(&frame), ErrorCode::Invalid, "{frame}");
        }
        assert_eq!(
            code(r#"{"event": "timer_start_requested"}"#),
            ErrorCode::Invalid
        );
    }

    #[test]
    fn good_frames_parse() {
        let (event, data) = EventName::parse_envelope(
            r#"{"event": "next_story_requested", "data": {"story_id": null}}"#,
        )
        .unwrap();
        assert_eq!(
            event.parse_data(data).unwrap(),
            ClientCommand::NextStoryRequested { story_id: None }
        );
        let (event, data) = EventName::parse_envelope(r#"{"event": "heartbeat"}"#).unwrap();
        assert_eq!(event.permission(), None);
        assert_eq!(event.parse_data(data).unwrap(), ClientCommand::Heartbeat);
        let (event, _) =
            EventName::parse_envelope(r#"{"event": "reset_requested", "data": {}}"#).unwrap();
        assert_eq!(event.permission(), Some(Permission::Moderate));
        let (event, _) = EventName::parse_envelope(r#"{"event": "reveal_requested"}"#).unwrap();
        assert_eq!(event.permission(), Some(Permission::Moderate));
        let (event, _) = EventName::parse_envelope(r#"{"event": "abstain"}"#).unwrap();
        assert_eq!(event.permission(), Some(Permission::Vote));
    }

    #[test]
    fn commands_round_trip_through_their_frames() {
        for command in [
            ClientCommand::VoteSubmitted { choice: json!("3") },
            ClientCommand::VoteSubmitted { choice: json!(0.5) },
            ClientCommand::ResetRequested,
            ClientCommand::PointsSubmitted {
                story_points: json!(5),
            },
            ClientCommand::NextStoryRequested { story_id: Some(7) },
            ClientCommand::NextStoryRequested { story_id: None },
            ClientCommand::Heartbeat,
            ClientCommand::RevealRequested,
            ClientCommand::Abstain,
            ClientCommand::QuickRoundRequested {
                ticket_number: None,
            },
            ClientCommand::QuickRoundRequested {
                ticket_number: Some("Quick round 14:05".into()),
            },
            ClientCommand::TimerStartRequested { seconds: 90 },
            ClientCommand::TimerStopRequested,
        ] {
            let (event, data) = EventName::parse_envelope(&command.to_frame()).unwrap();
            assert_eq!(event, command.event());
            assert_eq!(event.parse_data(data).unwrap(), command);
        }
    }
}
