//! Decks: the cards a session plays with. A vote's choice is any option of the deck; story
//! points are point options only.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The cards of one poker session: point options (may become story points) and other options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deck {
    /// Options that can become a story's points, in display order.
    pub points: Vec<String>,
    /// Options a voter may pick that are not points (for example "No idea").
    #[serde(default)]
    pub others: Vec<String>,
}

/// Why a deck description was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeckError {
    #[error("unknown deck preset {0:?}; known presets: default, fibonacci, tshirt, powers_of_two")]
    UnknownPreset(String),
    #[error("a deck needs at least one point option")]
    NoPoints,
    #[error("deck options must be 1 to 20 characters, got {0:?}")]
    BadOption(String),
    #[error("deck option {0:?} appears twice")]
    Duplicate(String),
    #[error(
        "deck options {0:?} and {1:?} are the same number, so a vote could not tell them apart"
    )]
    SameNumber(String, String),
    #[error("a deck has at most 40 options")]
    TooMany,
    #[error("a deck is a preset name or an object {{\"points\": [...], \"others\": [...]}}")]
    Shape,
}

/// A valid option of a session's deck, chosen by a voter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Choice(String);

impl Choice {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A valid point option of a session's deck, set as a story's points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryPoints(String);

impl StoryPoints {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The JSON form on the wire: a number when the option is numeric, else the option's text.
    pub fn to_json(&self) -> Value {
        points_json(&self.0)
    }
}

/// The JSON form of a stored points value: numeric options become JSON numbers.
pub fn points_json(option: &str) -> Value {
    if let Ok(i) = option.parse::<i64>() {
        return Value::from(i);
    }
    match option.parse::<f64>() {
        Ok(f) if f.is_finite() => Value::from(f),
        _ => Value::from(option),
    }
}

impl Default for Deck {
    /// The original's deck: `1 2 3 5 8 13 21 34`, plus "Too large" and "No idea".
    fn default() -> Self {
        Deck::preset("default").expect("the default preset exists")
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Deck {
    /// The named presets a session can be created with.
    pub const PRESETS: &'static [&'static str] =
        &["default", "fibonacci", "tshirt", "powers_of_two"];

    /// A named preset deck.
    pub fn preset(name: &str) -> Result<Deck, DeckError> {
        let others = strings(&["Too large", "No idea"]);
        let points = match name {
            "default" => strings(&["1", "2", "3", "5", "8", "13", "21", "34"]),
            "fibonacci" => strings(&["0", "1", "2", "3", "5", "8", "13", "21", "34", "55", "89"]),
            "tshirt" => strings(&["XS", "S", "M", "L", "XL", "XXL"]),
            "powers_of_two" => strings(&["0", "1", "2", "4", "8", "16", "32", "64"]),
            other => return Err(DeckError::UnknownPreset(other.to_string())),
        };
        Ok(Deck { points, others })
    }

    /// Translation keys of this deck's options, for clients that show them in their user's
    /// language: the non-point options of a preset deck ("Too large" → `too_large`, "No idea"
    /// → `no_idea`). A deck that is no preset has none: its options are shown as typed.
    pub fn label_keys(&self) -> Vec<(String, &'static str)> {
        let is_preset = Deck::PRESETS
            .iter()
            .any(|name| Deck::preset(name).is_ok_and(|preset| preset == *self));
        if !is_preset {
            return Vec::new();
        }
        self.others
            .iter()
            .filter_map(|option| {
                let key = match option.as_str() {
                    "Too large" => "too_large",
                    "No idea" => "no_idea",
                    _ => return None,
                };
                Some((option.clone(), key))
            })
            .collect()
    }

    /// Parses a deck as a client gives it: a preset name, or `{"points": [...], "others": [...]}`.
    pub fn from_json(value: &Value) -> Result<Deck, DeckError> {
        match value {
            Value::String(name) => Deck::preset(name),
            Value::Object(_) => {
                let deck: Deck =
                    serde_json::from_value(value.clone()).map_err(|_| DeckError::Shape)?;
                deck.checked()
            }
            _ => Err(DeckError::Shape),
        }
    }

    /// Checks the invariants of a deck built from untrusted input.
    pub fn checked(mut self) -> Result<Deck, DeckError> {
        for option in self.points.iter_mut().chain(self.others.iter_mut()) {
            *option = option.trim().to_string();
        }
        if self.points.is_empty() {
            return Err(DeckError::NoPoints);
        }
        if self.points.len() + self.others.len() > 40 {
            return Err(DeckError::TooMany);
        }
        let mut seen = std::collections::HashSet::new();
        for option in self.options() {
            let len = option.chars().count();
            if !(1..=20).contains(&len) {
                return Err(DeckError::BadOption(option.to_string()));
            }
            if !seen.insert(option) {
                return Err(DeckError::Duplicate(option.to_string()));
            }
        }
        // A choice names an option by its text or by its number (`3` is `"3"`), so two options
        // with the same number ("1" and "1.0", "1e400" and "inf") would be one card.
        let numbers: Vec<(&str, f64)> = self
            .options()
            .filter_map(|o| o.parse::<f64>().ok().map(|n| (o, n)))
            .collect();
        for (i, (a, x)) in numbers.iter().enumerate() {
            if let Some((b, _)) = numbers[..i].iter().find(|(_, y)| y == x) {
                return Err(DeckError::SameNumber(b.to_string(), a.to_string()));
            }
        }
        Ok(self)
    }

    /// Every option, points first, in display order.
    pub fn options(&self) -> impl Iterator<Item = &str> {
        self.points
            .iter()
            .chain(self.others.iter())
            .map(String::as_str)
    }

    /// Where an option stands in the deck (used to order ties in the tally).
    pub fn position(&self, option: &str) -> usize {
        self.options()
            .position(|o| o == option)
            .unwrap_or(usize::MAX)
    }

    /// Whether every point option is a number (then points travel as JSON numbers).
    pub fn is_numeric(&self) -> bool {
        self.points.iter().all(|p| p.parse::<f64>().is_ok())
    }

    /// Turns a client's choice (a string, or a number for numeric options) into a deck option.
    pub fn choice(&self, raw: &Value) -> Option<Choice> {
        find_option(self.options(), raw).map(|s| Choice(s.to_string()))
    }

    /// Turns a client's story points (a string or a number) into a point option.
    pub fn story_points(&self, raw: &Value) -> Option<StoryPoints> {
        find_option(self.points.iter().map(String::as_str), raw).map(|s| StoryPoints(s.to_string()))
    }
}

/// Finds the option a raw JSON value names: the same text, or the same number.
fn find_option<'a>(mut options: impl Iterator<Item = &'a str>, raw: &Value) -> Option<&'a str> {
    let (text, number) = match raw {
        Value::String(s) => (Some(s.trim().to_string()), s.trim().parse::<f64>().ok()),
        Value::Number(n) => (None, n.as_f64()),
        _ => return None,
    };
    options.find(|option| {
        text.as_deref() == Some(*option)
            || matches!((number, option.parse::<f64>()), (Some(a), Ok(b)) if a == b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_preset_decks_name_keys_for_their_labels() {
        let keys = Deck::default().label_keys();
        assert_eq!(
            keys,
            [
                ("Too large".to_string(), "too_large"),
                ("No idea".to_string(), "no_idea")
            ]
        );
        assert_eq!(Deck::preset("tshirt").unwrap().label_keys().len(), 2);
        // Typed by hand, even with the same words: shown as typed.
        let custom =
            Deck::from_json(&serde_json::json!({"points": ["1", "2"], "others": ["No idea"]}))
                .unwrap();
        assert!(custom.label_keys().is_empty());
    }

    #[test]
    fn default_deck_is_the_originals() {
        let deck = Deck::default();
        assert_eq!(deck.points, ["1", "2", "3", "5", "8", "13", "21", "34"]);
        assert_eq!(deck.others, ["Too large", "No idea"]);
        assert!(deck.is_numeric());
    }

    #[test]
    fn choices_match_text_or_number() {
        let deck = Deck::default();
        assert_eq!(deck.choice(&json!("3")).unwrap().as_str(), "3");
        assert_eq!(deck.choice(&json!(3)).unwrap().as_str(), "3");
        assert_eq!(deck.choice(&json!("No idea")).unwrap().as_str(), "No idea");
        assert!(deck.choice(&json!("4")).is_none());
        assert!(deck.choice(&json!(null)).is_none());
        assert!(deck.choice(&json!(["3"])).is_none());
    }

    #[test]
    fn story_points_are_point_options_only() {
        let deck = Deck::default();
        assert_eq!(deck.story_points(&json!("5")).unwrap().to_json(), json!(5));
        assert_eq!(deck.story_points(&json!(13)).unwrap().as_str(), "13");
        assert!(deck.story_points(&json!("Too large")).is_none());
        assert!(deck.story_points(&json!(4)).is_none());
    }

    #[test]
    fn tshirt_points_stay_strings() {
        let deck = Deck::preset("tshirt").unwrap();
        assert!(!deck.is_numeric());
        assert_eq!(
            deck.story_points(&json!("M")).unwrap().to_json(),
            json!("M")
        );
    }

    #[test]
    fn custom_decks_are_checked() {
        assert_eq!(
            Deck::from_json(&json!({"points": []})),
            Err(DeckError::NoPoints)
        );
        assert!(matches!(
            Deck::from_json(&json!({"points": ["1", "1"]})),
            Err(DeckError::Duplicate(_))
        ));
        assert_eq!(Deck::from_json(&json!(5)), Err(DeckError::Shape));
        let deck = Deck::from_json(&json!({"points": ["0.5", "1"], "others": ["?"]})).unwrap();
        assert_eq!(
            deck.story_points(&json!(0.5)).unwrap().to_json(),
            json!(0.5)
        );
    }

    /// Found by the `deck` fuzz target: `"1e400"` and `"inf"` (both infinity) were two options
    /// that every choice naming one of them resolved to the first.
    #[test]
    fn options_that_are_the_same_number_are_refused() {
        for (a, b) in [("1", "1.0"), ("1e400", "inf"), ("0", "-0"), ("5", "05")] {
            assert_eq!(
                Deck::from_json(&json!({"points": [a, "2"], "others": [b]})),
                Err(DeckError::SameNumber(a.into(), b.into()))
            );
        }
        let deck = Deck::from_json(&json!({"points": ["NaN", "nan", "1"]})).unwrap();
        assert_eq!(deck.choice(&json!("nan")).unwrap().as_str(), "nan");
    }
}
