//! The diesel schema, written by hand to match both migration folders.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        can_vote -> Bool,
        can_moderate -> Bool,
        is_admin -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    invites (id) {
        id -> BigInt,
        session_id -> BigInt,
        token_hash -> Text,
        role -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Users let in by an invite: each sees its invite's session and nothing else.
    guests (user_id) {
        user_id -> BigInt,
        invite_id -> BigInt,
        session_id -> BigInt,
    }
}

diesel::table! {
    tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        kind -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    poker_sessions (id) {
        id -> BigInt,
        name -> Text,
        poker_date -> Date,
        active_story_id -> Nullable<BigInt>,
        deck -> Text,
        secret_votes -> Bool,
        created_at -> BigInt,
        version -> BigInt,
        reveal -> Text,
        auto_reveal -> Bool,
        timer_ends_at -> Nullable<BigInt>,
        timer_seconds -> Nullable<BigInt>,
        timer_reveals -> Bool,
    }
}

diesel::table! {
    stories (id) {
        id -> BigInt,
        poker_session_id -> Nullable<BigInt>,
        position -> BigInt,
        ticket_number -> Text,
        title -> Text,
        description -> Text,
        story_points -> Nullable<Text>,
        revealed -> Bool,
    }
}

diesel::table! {
    votes (id) {
        id -> BigInt,
        story_id -> BigInt,
        user_id -> BigInt,
        choice -> Text,
    }
}

diesel::table! {
    abstentions (id) {
        id -> BigInt,
        story_id -> BigInt,
        user_id -> BigInt,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    /// What `import-django` brought over: a Django row's id and the id it got here, per kind.
    django_imports (kind, django_id) {
        kind -> Text,
        django_id -> BigInt,
        our_id -> BigInt,
    }
}

diesel::table! {
    /// URLs that hear of a session's events (`session_id`), or of every session's (NULL).
    webhooks (id) {
        id -> BigInt,
        url -> Text,
        session_id -> Nullable<BigInt>,
        secret -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// One event sent to one webhook, with its attempts (times in milliseconds).
    webhook_deliveries (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        event_id -> Text,
        event -> Text,
        session_id -> Nullable<BigInt>,
        payload -> Text,
        status -> Text,
        attempts -> BigInt,
        status_code -> Nullable<BigInt>,
        error -> Nullable<Text>,
        attempt_log -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::joinable!(tokens -> users (user_id));
diesel::joinable!(votes -> users (user_id));
diesel::joinable!(votes -> stories (story_id));
diesel::joinable!(abstentions -> users (user_id));
diesel::joinable!(guests -> users (user_id));
diesel::joinable!(abstentions -> stories (story_id));
diesel::joinable!(stories -> poker_sessions (poker_session_id));
diesel::joinable!(webhooks -> poker_sessions (session_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    tokens,
    poker_sessions,
    stories,
    votes,
    abstentions,
    settings,
    django_imports,
    invites,
    guests,
    webhooks,
    webhook_deliveries
);
