//! Field limits of PROTOCOL.md section 1, checked at the edge.

/// A field that failed validation, with a message a person understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

/// Checks that a text field is between `min` and `max` characters (after trimming) and returns it trimmed.
pub fn text(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<String, FieldError> {
    let value = value.trim();
    let len = value.chars().count();
    if len < min {
        return Err(FieldError::new(
            field,
            if min == 1 {
                "must not be empty".to_string()
            } else {
                format!("must be at least {min} characters")
            },
        ));
    }
    if len > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(value.to_string())
}

/// A username: 1–150 characters.
pub fn username(value: &str) -> Result<String, FieldError> {
    text("username", value, 1, 150)
}

/// A poker session's name: 1–200 characters.
pub fn session_name(value: &str) -> Result<String, FieldError> {
    text("name", value, 1, 200)
}

/// A story's ticket number: 1–200 characters.
pub fn ticket_number(value: &str) -> Result<String, FieldError> {
    text("ticket_number", value, 1, 200)
}

/// A story's title: 0–200 characters.
pub fn title(value: &str) -> Result<String, FieldError> {
    text("title", value, 0, 200)
}

/// A password: 1–1024 characters (the upper bound keeps hashing cheap to refuse).
pub fn password(value: &str) -> Result<String, FieldError> {
    let len = value.chars().count();
    if len == 0 {
        return Err(FieldError::new("password", "must not be empty"));
    }
    if len > 1024 {
        return Err(FieldError::new(
            "password",
            "must be at most 1024 characters",
        ));
    }
    Ok(value.to_string())
}

/// A story's label: `"TICKET: Title"`, or `"TICKET"` when the title is empty.
pub fn story_label(ticket_number: &str, title: &str) -> String {
    if title.is_empty() {
        ticket_number.to_string()
    } else {
        format!("{ticket_number}: {title}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_drops_empty_title() {
        assert_eq!(story_label("PP-1", "Login"), "PP-1: Login");
        assert_eq!(story_label("PP-1", ""), "PP-1");
    }

    #[test]
    fn limits_are_enforced_on_trimmed_text() {
        assert_eq!(ticket_number("  PP-1 ").unwrap(), "PP-1");
        assert_eq!(ticket_number("   ").unwrap_err().field, "ticket_number");
        assert!(title("").is_ok());
        assert!(title(&"x".repeat(201)).is_err());
        assert!(username(&"é".repeat(150)).is_ok());
        assert!(username(&"é".repeat(151)).is_err());
    }
}
