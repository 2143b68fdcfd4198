//! The fuzz targets' bodies: each function feeds raw bytes to one parser of the server, exactly
//! as the server does, and panics when a property of the contract fails (not only on a crash).
//!
//! `fuzz/fuzz_targets/*.rs` (cargo-fuzz, nightly flags) call these, and so does
//! `tests/corpus.rs`, which replays every committed corpus file on stable in the normal test run.

use std::collections::HashSet;

use poker_core::{fields, ClientCommand, Deck, ErrorCode, EventName, WireError};
use poker_server::api::fuzzing::{self, Accepted, BodyKind, NewStory};
use poker_server::api::stories::sanitize_description;
use poker_server::error::ApiError;
use serde_json::{json, Value};

/// A target's body: takes one input, panics when a property fails.
pub type Target = fn(&[u8]);

/// The targets by name (each a folder under `fuzz/corpus/`), with their bodies.
pub const TARGETS: &[(&str, Target)] = &[
    ("frame", frame),
    ("rest_body", rest_body),
    ("import_csv", import_csv),
    ("import_json", import_json),
    ("deck", deck),
];

/// A WebSocket text frame, through everything it meets before the session actor.
pub fn frame(data: &[u8]) {
    // The socket refuses a frame that is not UTF-8 before parsing it.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let expected_envelope_error = envelope_oracle(text);
    let (event, payload) = match EventName::parse_envelope(text) {
        Err(e) => {
            assert_eq!(
                Some(e.code),
                expected_envelope_error,
                "envelope refused with the wrong code: {e:?}"
            );
            return check_refusal(&e);
        }
        Ok(parsed) => parsed,
    };
    assert_eq!(
        expected_envelope_error, None,
        "envelope accepted, should be {expected_envelope_error:?}"
    );
    let command = match event.parse_data(payload) {
        Err(e) => {
            assert_eq!(e.code, ErrorCode::Invalid, "data refused as {e:?}");
            return check_refusal(&e);
        }
        Ok(command) => command,
    };
    assert_eq!(command.event(), event);
    // Re-serialized, the command parses back to itself.
    let again = command.to_frame();
    let (event2, payload2) = EventName::parse_envelope(&again)
        .unwrap_or_else(|e| panic!("{again} does not parse back: {e:?}"));
    assert_eq!(event2, event);
    let command2 = event2
        .parse_data(payload2)
        .unwrap_or_else(|e| panic!("{again} does not parse back: {e:?}"));
    assert_eq!(command2, command, "{again} parses to another command");
    // The session's next step: deck membership.
    let deck = Deck::default();
    match &command {
        ClientCommand::VoteSubmitted { choice } => probe(&deck, choice),
        ClientCommand::PointsSubmitted { story_points } => probe(&deck, story_points),
        _ => {}
    }
}

/// What the envelope step must answer, judged independently: `None` for a JSON object with a
/// known event name.
fn envelope_oracle(text: &str) -> Option<ErrorCode> {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Some(ErrorCode::BadRequest);
    };
    match value.get("event") {
        _ if !value.is_object() => Some(ErrorCode::BadRequest),
        Some(Value::String(name)) => {
            let known = [
                "vote_submitted",
                "reset_requested",
                "points_submitted",
                "next_story_requested",
                "heartbeat",
            ];
            (!known.contains(&name.as_str())).then_some(ErrorCode::UnknownEvent)
        }
        _ => Some(ErrorCode::BadRequest),
    }
}

/// A refusal explains itself, and its `error` frame carries its code and message.
fn check_refusal(e: &WireError) {
    assert!(!e.message.trim().is_empty(), "empty message in {e:?}");
    let frame: Value = serde_json::from_str(&e.to_frame()).expect("an error frame is JSON");
    assert_eq!(
        frame,
        json!({"type": "send_json", "event": "error",
               "data": {"code": e.code.as_str(), "message": e.message}})
    );
}

/// Every REST JSON body kind, on the same bytes.
pub fn rest_body(data: &[u8]) {
    let is_object = serde_json::from_slice::<Value>(data).is_ok_and(|v| v.is_object());
    for kind in BodyKind::ALL {
        match fuzzing::parse_body(kind, data) {
            Err(e) => {
                check_body_error(kind, &e);
                // Malformed (400) is exactly "not a JSON object"; everything else is a 422.
                assert_eq!(
                    matches!(e, ApiError::BadRequest(_)),
                    !is_object,
                    "{kind:?}: {e:?}"
                );
            }
            Ok(accepted) => {
                assert!(is_object, "{kind:?} accepted a body that is not an object");
                check_accepted(&accepted);
                // What the server understood, said again in canonical JSON, means the same.
                let canonical = canonical_body(&accepted).to_string();
                let again = fuzzing::parse_body(kind, canonical.as_bytes())
                    .unwrap_or_else(|e| panic!("{kind:?}: {canonical} refused: {e:?}"));
                assert_eq!(
                    format!("{again:?}"),
                    format!("{accepted:?}"),
                    "{kind:?}: {canonical} means something else"
                );
            }
        }
    }
}

fn check_body_error(kind: BodyKind, e: &ApiError) {
    match e {
        ApiError::BadRequest(message) => assert!(!message.is_empty(), "{kind:?}: {e:?}"),
        ApiError::Invalid { field, message } => {
            assert!(!message.is_empty(), "{kind:?}: {e:?}");
            let root = field.split(['[', '.']).next().unwrap_or_default();
            assert!(
                kind.fields().contains(&root),
                "{kind:?}: the error names no field of the body: {e:?}"
            );
        }
        other => panic!("{kind:?}: a body is refused with 400 or 422, not {other:?}"),
    }
}

/// Text that a validator passed is what the validator makes of it.
fn check_text(
    value: &str,
    validate: fn(&str) -> Result<String, poker_core::FieldError>,
    what: &str,
) {
    assert_eq!(
        validate(value).as_deref(),
        Ok(value),
        "{what} {value:?} is not stable"
    );
}

fn check_description(value: &str) {
    assert_eq!(
        sanitize_description(value),
        value,
        "the sanitized description {value:?} changes when sanitized again"
    );
}

fn check_accepted(accepted: &Accepted) {
    match accepted {
        Accepted::Login { .. } => {}
        Accepted::CreateUser {
            username, password, ..
        } => {
            check_text(username, fields::username, "username");
            check_text(password, fields::password, "password");
        }
        Accepted::UpdateUser {
            username, password, ..
        } => {
            if let Some(u) = username {
                check_text(u, fields::username, "username");
            }
            if let Some(p) = password {
                check_text(p, fields::password, "password");
            }
        }
        Accepted::CreateSession(session) => {
            check_text(&session.name, fields::session_name, "name");
            check_deck(&session.deck);
        }
        Accepted::UpdateSession(patch) => {
            if let Some(n) = &patch.name {
                check_text(n, fields::session_name, "name");
            }
            if let Some(d) = &patch.deck {
                check_deck(d);
            }
        }
        Accepted::CreateStory(story) => {
            check_text(&story.ticket_number, fields::ticket_number, "ticket_number");
            check_text(&story.title, fields::title, "title");
            check_description(&story.description);
        }
        Accepted::UpdateStory {
            ticket_number,
            title,
            description,
            story_points,
            poker_session_id,
        } => {
            if let Some(t) = ticket_number {
                check_text(t, fields::ticket_number, "ticket_number");
            }
            if let Some(t) = title {
                check_text(t, fields::title, "title");
            }
            if let Some(d) = description {
                check_description(d);
            }
            if let Some(Some(id)) = poker_session_id {
                assert!(*id > 0);
            }
            if let Some(Some(raw)) = story_points {
                // The database step checks it against the session's deck.
                probe(&Deck::default(), raw);
            }
        }
        Accepted::StoryOrder(_) => {}
    }
}

/// The body a client would send to say what `accepted` says.
fn canonical_body(accepted: &Accepted) -> Value {
    let mut body = serde_json::Map::new();
    let mut put = |field: &str, value: Option<Value>| {
        if let Some(value) = value {
            body.insert(field.to_string(), value);
        }
    };
    let date = |d: &dyn std::fmt::Display| Value::from(d.to_string());
    match accepted {
        Accepted::Login { username, password } => {
            put("username", Some(json!(username)));
            put("password", Some(json!(password)));
        }
        Accepted::CreateUser {
            username,
            password,
            rights,
        } => {
            put("username", Some(json!(username)));
            put("password", Some(json!(password)));
            for (field, right) in ["can_vote", "can_moderate", "is_admin"].iter().zip(rights) {
                put(field, Some(json!(right)));
            }
        }
        Accepted::UpdateUser {
            username,
            password,
            rights,
        } => {
            put("username", username.as_ref().map(|u| json!(u)));
            put("password", password.as_ref().map(|p| json!(p)));
            for (field, right) in ["can_vote", "can_moderate", "is_admin"].iter().zip(rights) {
                put(field, right.map(Value::from));
            }
        }
        Accepted::CreateSession(session) => {
            put("name", Some(json!(session.name)));
            put(
                "poker_date",
                Some(date(&session.poker_date.format("%Y-%m-%d"))),
            );
            put("deck", Some(json!(session.deck)));
            put("secret_votes", Some(json!(session.secret_votes)));
            put("reveal", Some(json!(session.reveal)));
            put("auto_reveal", Some(json!(session.auto_reveal)));
            put("timer_reveals", Some(json!(session.timer_reveals)));
        }
        Accepted::UpdateSession(patch) => {
            put("name", patch.name.as_ref().map(|n| json!(n)));
            put(
                "poker_date",
                patch.poker_date.map(|d| date(&d.format("%Y-%m-%d"))),
            );
            put("deck", patch.deck.as_ref().map(|d| json!(d)));
            put("secret_votes", patch.secret_votes.map(Value::from));
            put("reveal", patch.reveal.map(|r| json!(r)));
            put("auto_reveal", patch.auto_reveal.map(Value::from));
            put("timer_reveals", patch.timer_reveals.map(Value::from));
        }
        Accepted::CreateStory(story) => {
            put("ticket_number", Some(json!(story.ticket_number)));
            put("title", Some(json!(story.title)));
            put("description", Some(json!(story.description)));
        }
        Accepted::UpdateStory {
            ticket_number,
            title,
            description,
            story_points,
            poker_session_id,
        } => {
            put("ticket_number", ticket_number.as_ref().map(|t| json!(t)));
            put("title", title.as_ref().map(|t| json!(t)));
            put("description", description.as_ref().map(|d| json!(d)));
            put("story_points", story_points.as_ref().map(|p| json!(p)));
            put("poker_session_id", poker_session_id.map(|id| json!(id)));
        }
        Accepted::StoryOrder(ids) => put("story_ids", Some(json!(ids))),
    }
    Value::Object(body)
}

/// A CSV story import (`text/csv`).
pub fn import_csv(data: &[u8]) {
    // At most one record per line ending (CR alone ends a record too), plus the last.
    let records = data.iter().filter(|&&b| b == b'\n' || b == b'\r').count() + 1;
    match fuzzing::import_csv(data) {
        Err(e) => check_import_error(&e, records),
        Ok(stories) => {
            check_stories(&stories);
            // The same stories written as CSV import as themselves, and so does their JSON.
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer
                .write_record(["ticket_number", "title", "description"])
                .expect("writing to memory");
            for s in &stories {
                writer
                    .write_record([&s.ticket_number, &s.title, &s.description])
                    .expect("writing to memory");
            }
            let csv = writer.into_inner().expect("writing to memory");
            let again = fuzzing::import_csv(&csv)
                .unwrap_or_else(|e| panic!("{:?} refused: {e:?}", String::from_utf8_lossy(&csv)));
            // The import trims every CSV field (quoted ones too), so a description that ends in
            // a space (from `&#32;`) comes back without it: compare ends trimmed.
            let key = |stories: &Stories| -> Vec<(String, String, String)> {
                stories
                    .iter()
                    .map(|s| {
                        let d = s.description.trim_matches(|c: char| {
                            c.is_ascii_whitespace() || c == '\u{b}' || c == '\u{feff}'
                        });
                        (s.ticket_number.clone(), s.title.clone(), d.to_string())
                    })
                    .collect()
            };
            assert_eq!(
                key(&again),
                key(&stories),
                "{:?} imports as other stories",
                String::from_utf8_lossy(&csv)
            );
            check_json_round_trip(&stories);
        }
    }
}

/// A JSON story import (`application/json`).
pub fn import_json(data: &[u8]) {
    match fuzzing::import_json(data) {
        Err(e) => {
            let rows = serde_json::from_slice::<Value>(data)
                .ok()
                .and_then(|v| v.as_array().map(Vec::len))
                .unwrap_or(0);
            check_import_error(&e, rows);
        }
        Ok(stories) => {
            check_stories(&stories);
            check_json_round_trip(&stories);
        }
    }
}

type Stories = [NewStory];

fn check_json_round_trip(stories: &Stories) {
    let json = Value::from(
        stories
            .iter()
            .map(|s| json!({"ticket_number": s.ticket_number, "title": s.title, "description": s.description}))
            .collect::<Vec<_>>(),
    )
    .to_string();
    let again =
        fuzzing::import_json(json.as_bytes()).unwrap_or_else(|e| panic!("{json} refused: {e:?}"));
    assert_eq!(
        format!("{again:?}"),
        format!("{stories:?}"),
        "{json} imports as other stories"
    );
}

fn check_stories(stories: &Stories) {
    for s in stories {
        check_text(&s.ticket_number, fields::ticket_number, "ticket_number");
        check_text(&s.title, fields::title, "title");
        check_description(&s.description);
    }
}

/// An import fails with a readable 400, or a 422 naming a row (`[2]`) or a row's field
/// (`[2].title`) among the first `rows`.
fn check_import_error(e: &ApiError, rows: usize) {
    match e {
        ApiError::BadRequest(message) => assert!(!message.is_empty(), "{e:?}"),
        ApiError::Invalid { field, message } => {
            assert!(!message.is_empty(), "{e:?}");
            let row = field
                .strip_prefix('[')
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(index, rest)| {
                    let known = ["", ".ticket_number", ".title", ".description"];
                    known.contains(&rest).then(|| index.parse::<usize>().ok())?
                });
            match row {
                Some(row) => assert!(row < rows.max(1), "{e:?}: only {rows} rows"),
                None => panic!("the error names no row and field: {e:?}"),
            }
        }
        other => panic!("an import is refused with 400 or 422, not {other:?}"),
    }
}

/// A deck description (the first line: JSON, or else a preset name), then probes: one raw
/// choice per line (JSON, or else a string).
pub fn deck(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for name in Deck::PRESETS {
        let preset = Deck::preset(name).expect("a listed preset exists");
        assert_eq!(preset.clone().checked(), Ok(preset));
    }
    let (head, probes) = text.split_once('\n').unwrap_or((text, ""));
    let value = serde_json::from_str::<Value>(head).unwrap_or_else(|_| json!(head));
    let result = Deck::from_json(&value);
    if let Value::String(name) = &value {
        assert_eq!(result, Deck::preset(name));
        assert_eq!(result.is_ok(), Deck::PRESETS.contains(&name.as_str()));
    }
    match result {
        Err(e) => assert!(!e.to_string().trim().is_empty(), "{e:?}"),
        Ok(deck) => {
            check_deck(&deck);
            for line in probes.lines() {
                let raw = serde_json::from_str::<Value>(line).unwrap_or_else(|_| json!(line));
                probe(&deck, &raw);
            }
        }
    }
}

/// An accepted deck keeps its invariants, survives storage, and each option names itself.
fn check_deck(deck: &Deck) {
    assert!(!deck.points.is_empty(), "{deck:?} has no points");
    let options: Vec<&str> = deck.options().collect();
    assert!(options.len() <= 40, "{deck:?} is too large");
    let unique: HashSet<&str> = options.iter().copied().collect();
    assert_eq!(unique.len(), options.len(), "{deck:?} repeats an option");
    for option in &options {
        assert_eq!(
            option.trim(),
            *option,
            "{deck:?}: {option:?} is not trimmed"
        );
        assert!(
            (1..=20).contains(&option.chars().count()),
            "{deck:?}: {option:?}"
        );
    }
    assert_eq!(deck.clone().checked().as_ref(), Ok(deck), "checked twice");
    // Stored as JSON and read back (the database keeps decks as JSON).
    let stored = serde_json::to_value(deck).expect("a deck serializes");
    assert_eq!(Deck::from_json(&stored).as_ref(), Ok(deck), "{stored}");
    for (index, option) in options.iter().enumerate() {
        let named = deck.choice(&json!(option));
        assert_eq!(
            named.as_ref().map(|c| c.as_str()),
            Some(*option),
            "{deck:?}: the choice {option:?} names another option"
        );
        assert_eq!(deck.position(option), index);
        probe(deck, &json!(option));
    }
    for point in &deck.points {
        let points = deck
            .story_points(&json!(point))
            .unwrap_or_else(|| panic!("{deck:?}: {point:?} is not a point option"));
        assert_eq!(points.as_str(), point);
        // The form broadcast in `story_points_submitted` names the same option.
        let wire = points.to_json();
        assert_eq!(
            deck.story_points(&wire).as_ref().map(|p| p.as_str()),
            Some(point.as_str()),
            "{deck:?}: {point:?} goes out as {wire}, which names another option"
        );
    }
    for other in &deck.others {
        assert!(
            deck.story_points(&json!(other)).is_none(),
            "{deck:?}: {other:?} is not a point option"
        );
    }
}

/// A raw choice names at most one option of the deck, and points name a point option.
fn probe(deck: &Deck, raw: &Value) {
    let choice = deck.choice(raw);
    if let Some(c) = &choice {
        assert!(deck.options().any(|o| o == c.as_str()), "{raw} -> {c:?}");
    }
    if let Some(p) = deck.story_points(raw) {
        assert!(
            deck.points.iter().any(|o| o == p.as_str()),
            "{raw} -> {p:?}"
        );
        assert_eq!(
            choice.as_ref().map(|c| c.as_str()),
            Some(p.as_str()),
            "{raw} names {p:?} as points but {choice:?} as a vote"
        );
    }
    // The documented rule: the same text (trimmed), or the same number.
    let named = |option: &str| match raw {
        Value::String(text) => {
            text.trim() == option
                || matches!((text.trim().parse::<f64>(), option.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
        }
        Value::Number(n) => {
            matches!((n.as_f64(), option.parse::<f64>()), (Some(a), Ok(b)) if a == b)
        }
        _ => false,
    };
    let matching: Vec<&str> = deck.options().filter(|o| named(o)).collect();
    assert!(matching.len() <= 1, "{raw} names each of {matching:?}");
    assert_eq!(
        choice.as_ref().map(|c| c.as_str()),
        matching.first().copied(),
        "{raw}"
    );
}
