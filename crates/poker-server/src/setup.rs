//! Setting up data from the command line: the first admin, new users, the demo session.

use chrono::Local;
use poker_core::{fields, Deck};
use poker_db::{NewSession, NewStory, NewUser, Store, User};

use crate::auth::{hash_password, new_secret};

/// Rights of a user created from the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rights {
    pub can_vote: bool,
    pub can_moderate: bool,
    pub is_admin: bool,
}

/// A readable random password.
pub fn generate_password() -> String {
    new_secret()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect()
}

/// Creates a user after checking the fields as the REST API does.
pub fn create_user(
    store: &Store,
    username: &str,
    password: &str,
    rights: Rights,
) -> Result<User, String> {
    let username = fields::username(username).map_err(|e| e.to_string())?;
    let password = fields::password(password).map_err(|e| e.to_string())?;
    let password_hash = hash_password(&password).map_err(|e| e.to_string())?;
    store
        .create_user(&NewUser {
            username,
            password_hash,
            can_vote: rights.can_vote,
            can_moderate: rights.can_moderate,
            is_admin: rights.is_admin,
        })
        .map_err(|e| e.to_string())
}

/// On an empty database, creates `admin` (admin, moderator, voter) with `password`, or with a
/// generated password that is printed once.
pub fn ensure_admin(store: &Store, password: &str) -> Result<(), String> {
    if store.count_users().map_err(|e| e.to_string())? > 0 {
        return Ok(());
    }
    let (password, generated) = if password.is_empty() {
        (generate_password(), true)
    } else {
        (password.to_string(), false)
    };
    let rights = Rights {
        can_vote: true,
        can_moderate: true,
        is_admin: true,
    };
    create_user(store, "admin", &password, rights)?;
    if generated {
        println!("Created the first user: admin / {password}  (shown once; set ADMIN_PASSWORD to choose it)");
    } else {
        println!("Created the first user: admin (password from ADMIN_PASSWORD)");
    }
    Ok(())
}

/// What `demo` created, to print.
pub struct Demo {
    pub session_id: i64,
    pub users: Vec<(String, String, &'static str)>,
}

/// Fills in a demo session with stories and three users (two voters and a moderator).
pub fn demo(store: &Store) -> Result<Demo, String> {
    let session = store
        .create_session(&NewSession {
            name: "Demo: webshop sprint 12".into(),
            poker_date: Local::now().date_naive(),
            deck: Deck::default(),
            secret_votes: true,
            reveal: Default::default(),
            auto_reveal: true,
            timer_reveals: true,
        })
        .map_err(|e| e.to_string())?;
    let stories = [
        (
            "SHOP-101",
            "Guest checkout",
            "<p>Customers can buy <strong>without</strong> an account.</p>",
        ),
        (
            "SHOP-102",
            "Wish list",
            "<p>Save products for later; share the list by link.</p>",
        ),
        (
            "SHOP-103",
            "Invoice as PDF",
            "<ul><li>Download from the order page</li><li>Sent by mail</li></ul>",
        ),
        ("SHOP-104", "", "<p>Upgrade the payment provider's SDK.</p>"),
    ];
    for (ticket, title, description) in stories {
        store
            .create_story(
                session.id,
                &NewStory {
                    ticket_number: ticket.into(),
                    title: title.into(),
                    description: ammonia::clean(description),
                },
            )
            .map_err(|e| e.to_string())?;
    }
    let mut users = Vec::new();
    for (name, rights, role) in [
        (
            "alice",
            Rights {
                can_vote: true,
                ..Rights::default()
            },
            "voter",
        ),
        (
            "bob",
            Rights {
                can_vote: true,
                ..Rights::default()
            },
            "voter",
        ),
        (
            "carol",
            Rights {
                can_moderate: true,
                ..Rights::default()
            },
            "moderator",
        ),
    ] {
        let username = match store.credentials(name).map_err(|e| e.to_string())? {
            Some(_) => format!("{name}-{}", session.id),
            None => name.to_string(),
        };
        let password = generate_password();
        create_user(store, &username, &password, rights)?;
        users.push((username, password, role));
    }
    Ok(Demo {
        session_id: session.id,
        users,
    })
}
