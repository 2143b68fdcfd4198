//! Webhooks and their deliveries (README, "Webhooks"): the hooks an admin registered, and the
//! log of what was sent to each.

use diesel::prelude::*;

use crate::schema::{poker_sessions, webhook_deliveries, webhooks};
use crate::store::{write_tx, Store};
use crate::DbError;

/// How many deliveries a hook keeps; older ones are removed as new ones come.
pub const DELIVERIES_KEPT: i64 = 200;

/// A registered webhook, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = webhooks)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    /// `None`: every session's events.
    pub session_id: Option<i64>,
    /// Seconds since 1970 (UTC).
    pub created_at: i64,
}

/// Where and how to sign one event: a hook with its secret.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = webhooks)]
pub struct WebhookTarget {
    pub id: i64,
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// A delivery to record, before its first attempt (or as dropped).
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub webhook_id: i64,
    pub event_id: &'a str,
    pub event: &'a str,
    pub session_id: Option<i64>,
    pub payload: &'a str,
    pub status: &'a str,
    /// Milliseconds since 1970 (UTC).
    pub now_ms: i64,
}

/// The state of a delivery after an attempt.
#[derive(Debug, Clone)]
pub struct DeliveryUpdate<'a> {
    pub status: &'a str,
    pub attempts: i64,
    pub status_code: Option<i64>,
    pub error: Option<&'a str>,
    /// A JSON array of the attempts.
    pub attempt_log: &'a str,
    pub now_ms: i64,
}

/// One delivery as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: String,
    pub event: String,
    pub session_id: Option<i64>,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub attempt_log: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A delivery still `pending`, with its hook: what a process needs to go on with its attempts
/// when the process that made them is gone.
#[derive(Debug, Clone)]
pub struct PendingDelivery {
    pub delivery: Delivery,
    pub target: WebhookTarget,
}

impl Store {
    /// Registers a hook; `NotFound` when `session_id` names no session.
    pub fn create_webhook(
        &self,
        url: &str,
        session_id: Option<i64>,
        secret: &str,
    ) -> Result<Webhook, DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            if let Some(session_id) = session_id {
                poker_sessions::table
                    .find(session_id)
                    .select(poker_sessions::id)
                    .first::<i64>(conn)
                    .optional()?
                    .ok_or(DbError::NotFound)?;
            }
            let created_at = chrono::Utc::now().timestamp();
            let id: i64 = diesel::insert_into(webhooks::table)
                .values((
                    webhooks::url.eq(url),
                    webhooks::session_id.eq(session_id),
                    webhooks::secret.eq(secret),
                    webhooks::created_at.eq(created_at),
                ))
                .returning(webhooks::id)
                .get_result(conn)?;
            Ok(Webhook {
                id,
                url: url.to_string(),
                session_id,
                created_at,
            })
        })
    }

    /// Every hook, oldest first.
    pub fn webhooks(&self) -> Result<Vec<Webhook>, DbError> {
        Ok(webhooks::table
            .order(webhooks::id)
            .select(Webhook::as_select())
            .load(&mut *self.conn()?)?)
    }

    pub fn webhook(&self, id: i64) -> Result<Option<Webhook>, DbError> {
        Ok(webhooks::table
            .find(id)
            .select(Webhook::as_select())
            .first(&mut *self.conn()?)
            .optional()?)
    }

    /// Deletes a hook and its deliveries; `NotFound` when there is none.
    pub fn delete_webhook(&self, id: i64) -> Result<(), DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::webhook_id.eq(id)))
                .execute(conn)?;
            match diesel::delete(webhooks::table.find(id)).execute(conn)? {
                0 => Err(DbError::NotFound),
                _ => Ok(()),
            }
        })
    }

    /// The hooks that hear of an event of `session_id`: its own and the global ones.
    pub fn webhook_targets(&self, session_id: i64) -> Result<Vec<WebhookTarget>, DbError> {
        Ok(webhooks::table
            .filter(
                webhooks::session_id
                    .eq(session_id)
                    .or(webhooks::session_id.is_null()),
            )
            .order(webhooks::id)
            .select(WebhookTarget::as_select())
            .load(&mut *self.conn()?)?)
    }

    /// Records a delivery and forgets the hook's oldest beyond [`DELIVERIES_KEPT`]; its id.
    pub fn insert_delivery(&self, new: &NewDelivery<'_>) -> Result<i64, DbError> {
        let conn = &mut *self.conn()?;
        write_tx(conn, |conn| {
            let id: i64 = diesel::insert_into(webhook_deliveries::table)
                .values((
                    webhook_deliveries::webhook_id.eq(new.webhook_id),
                    webhook_deliveries::event_id.eq(new.event_id),
                    webhook_deliveries::event.eq(new.event),
                    webhook_deliveries::session_id.eq(new.session_id),
                    webhook_deliveries::payload.eq(new.payload),
                    webhook_deliveries::status.eq(new.status),
                    webhook_deliveries::attempts.eq(0),
                    webhook_deliveries::status_code.eq(None::<i64>),
                    webhook_deliveries::error.eq(None::<String>),
                    webhook_deliveries::attempt_log.eq("[]"),
                    webhook_deliveries::created_at.eq(new.now_ms),
                    webhook_deliveries::updated_at.eq(new.now_ms),
                ))
                .returning(webhook_deliveries::id)
                .get_result(conn)?;
            let oldest_kept: Option<i64> = webhook_deliveries::table
                .filter(webhook_deliveries::webhook_id.eq(new.webhook_id))
                .order(webhook_deliveries::id.desc())
                .offset(DELIVERIES_KEPT - 1)
                .select(webhook_deliveries::id)
                .first(conn)
                .optional()?;
            if let Some(oldest_kept) = oldest_kept {
                diesel::delete(
                    webhook_deliveries::table
                        .filter(webhook_deliveries::webhook_id.eq(new.webhook_id))
                        .filter(webhook_deliveries::id.lt(oldest_kept)),
                )
                .execute(conn)?;
            }
            Ok(id)
        })
    }

    /// Records an attempt's outcome (a delivery whose hook was deleted meanwhile is no more).
    pub fn update_delivery(&self, id: i64, update: &DeliveryUpdate<'_>) -> Result<(), DbError> {
        diesel::update(webhook_deliveries::table.find(id))
            .set((
                webhook_deliveries::status.eq(update.status),
                webhook_deliveries::attempts.eq(update.attempts),
                webhook_deliveries::status_code.eq(update.status_code),
                webhook_deliveries::error.eq(update.error),
                webhook_deliveries::attempt_log.eq(update.attempt_log),
                webhook_deliveries::updated_at.eq(update.now_ms),
            ))
            .execute(&mut *self.conn()?)?;
        Ok(())
    }

    /// Up to `limit` deliveries still `pending`, oldest first, with their hooks (a delivery whose
    /// hook is gone has gone with it).
    pub fn pending_deliveries(&self, limit: i64) -> Result<Vec<PendingDelivery>, DbError> {
        let rows: Vec<(Delivery, WebhookTarget)> = webhook_deliveries::table
            .inner_join(webhooks::table)
            .filter(webhook_deliveries::status.eq("pending"))
            .order(webhook_deliveries::id)
            .limit(limit)
            .select((Delivery::as_select(), WebhookTarget::as_select()))
            .load(&mut *self.conn()?)?;
        Ok(rows
            .into_iter()
            .map(|(delivery, target)| PendingDelivery { delivery, target })
            .collect())
    }

    /// Takes over a pending delivery as it was read (`attempts`, `updated_at`): true when this
    /// call did, false when another process (or the one that made it) touched it since. The
    /// one that takes it marks it as touched now, so that nobody else takes it as well.
    pub fn claim_delivery(
        &self,
        id: i64,
        attempts: i64,
        updated_at: i64,
        now_ms: i64,
    ) -> Result<bool, DbError> {
        let claimed = diesel::update(
            webhook_deliveries::table
                .find(id)
                .filter(webhook_deliveries::status.eq("pending"))
                .filter(webhook_deliveries::attempts.eq(attempts))
                .filter(webhook_deliveries::updated_at.eq(updated_at)),
        )
        .set(webhook_deliveries::updated_at.eq(now_ms))
        .execute(&mut *self.conn()?)?;
        Ok(claimed == 1)
    }

    /// A hook's last `limit` deliveries, newest first.
    pub fn deliveries(&self, webhook_id: i64, limit: i64) -> Result<Vec<Delivery>, DbError> {
        Ok(webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq(webhook_id))
            .order(webhook_deliveries::id.desc())
            .limit(limit)
            .select(Delivery::as_select())
            .load(&mut *self.conn()?)?)
    }
}
