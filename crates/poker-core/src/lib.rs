//! The rules of planning poker, free of I/O: decks and their options, story labels and field
//! limits, the vote tally, and the WebSocket wire events (parsed at the edge into domain types).

pub mod deck;
pub mod events;
pub mod fields;
pub mod round;
pub mod tally;
pub mod wire;

pub use deck::{Choice, Deck, DeckError, StoryPoints};
pub use events::{Dialect, Round, ServerEvent, VotesView};
pub use fields::{story_label, FieldError};
pub use round::{RevealMode, Secrecy, UnknownRevealMode, Viewer};
pub use tally::{tally, Tally, Voter};
pub use wire::{ClientCommand, ErrorCode, EventName, Permission, WireError};
