//! The vote tally of `story_changed`: options with most votes first, voters in the order they voted.

use serde::Serialize;
use serde_json::Value;

use crate::deck::Deck;

/// Someone who voted, as the wire shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Voter {
    pub id: i64,
    pub name: String,
}

/// Votes grouped by option: the most chosen option first; ties keep the deck's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    pub groups: Vec<(String, Vec<Voter>)>,
}

impl Tally {
    /// The `votes` object of `story_changed` (key order is the tally order).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Groups votes (given in the order they were cast) by option.
pub fn tally<'a>(deck: &Deck, votes: impl IntoIterator<Item = (&'a Voter, &'a str)>) -> Tally {
    let mut groups: Vec<(String, Vec<Voter>)> = Vec::new();
    for (voter, choice) in votes {
        match groups.iter_mut().find(|(option, _)| option == choice) {
            Some((_, voters)) => voters.push(voter.clone()),
            None => groups.push((choice.to_string(), vec![voter.clone()])),
        }
    }
    // Stable sort: equal counts fall back to the deck's order.
    groups.sort_by_key(|(option, voters)| (std::cmp::Reverse(voters.len()), deck.position(option)));
    Tally { groups }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn voter(id: i64, name: &str) -> Voter {
        Voter {
            id,
            name: name.into(),
        }
    }

    #[test]
    fn most_votes_first_then_deck_order_voters_in_vote_order() {
        let (a, b, c, d) = (voter(1, "a"), voter(2, "b"), voter(3, "c"), voter(4, "d"));
        let votes = vec![(&a, "8"), (&b, "3"), (&c, "8"), (&d, "No idea")];
        let t = tally(&Deck::default(), votes);
        let json = t.to_json();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["8", "3", "No idea"]);
        assert_eq!(
            json["8"],
            json!([{"id": 1, "name": "a"}, {"id": 3, "name": "c"}])
        );
    }

    #[test]
    fn empty_tally_is_an_empty_object() {
        assert_eq!(tally(&Deck::default(), Vec::new()).to_json(), json!({}));
    }
}
