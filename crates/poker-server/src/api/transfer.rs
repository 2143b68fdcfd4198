//! Importing stories (CSV or JSON, all or nothing) and exporting a session as CSV.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use poker_db::NewStory;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::body::read_limited;
use super::parse_id;
use super::stories::new_story;
use super::views::{ErrorBody, StoryView};
use crate::auth::Identity;
use crate::error::{blocking, or_missing, ApiError};
use crate::live::change::SessionChange;
use crate::AppState;

/// The largest import body.
const MAX_IMPORT_BYTES: usize = 2 * 1024 * 1024;
/// The most stories one import may create.
const MAX_IMPORT_STORIES: usize = 1000;

/// One story of a JSON import.
#[derive(Deserialize, ToSchema)]
pub struct ImportStory {
    ticket_number: Option<String>,
    title: Option<String>,
    description: Option<String>,
}

/// Prefixes a field error with the row it happened in (`[2].ticket_number`).
fn at_row(row: usize, e: ApiError) -> ApiError {
    match e {
        ApiError::Invalid { field, message } => ApiError::invalid_field(
            format!("[{row}].{field}"),
            format!("row {}: {field} {message}", row + 1),
        ),
        other => other,
    }
}

pub(crate) fn from_csv(body: &[u8]) -> Result<Vec<NewStory>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::Fields)
        .from_reader(body);
    let mut stories = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record =
            record.map_err(|e| ApiError::BadRequest(format!("the CSV cannot be read: {e}")))?;
        if index == 0
            && record
                .get(0)
                .is_some_and(|f| f.eq_ignore_ascii_case("ticket_number"))
        {
            continue;
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        let row = stories.len();
        if record.len() > 3 {
            return Err(at_row(
                row,
                ApiError::invalid(
                    "description",
                    "a row has at most three columns: ticket_number,title,description",
                ),
            ));
        }
        let field = |i: usize| record.get(i).map(str::to_string);
        stories.push(
            new_story(field(0).filter(|s| !s.is_empty()), field(1), field(2))
                .map_err(|e| at_row(row, e))?,
        );
    }
    Ok(stories)
}

pub(crate) fn from_json(body: &[u8]) -> Result<Vec<NewStory>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let Some(items) = value.as_array() else {
        return Err(ApiError::BadRequest(
            "a JSON import is an array of stories".into(),
        ));
    };
    // serde would also read a row given as an array, by position (found by the import_json
    // fuzz target): a story is an object.
    if let Some(row) = items.iter().position(|item| !item.is_object()) {
        return Err(ApiError::invalid_field(
            format!("[{row}]"),
            "a story is an object with ticket_number, title and description",
        ));
    }
    let rows: Vec<ImportStory> = serde_path_to_error::deserialize(value)
        .map_err(|e| ApiError::invalid_field(e.path().to_string(), e.inner().to_string()))?;
    rows.into_iter()
        .enumerate()
        .map(|(row, s)| {
            new_story(s.ticket_number, s.title, s.description).map_err(|e| at_row(row, e))
        })
        .collect()
}

/// Appends stories to a session from CSV (`text/csv`: `ticket_number,title,description`, an
/// optional header row) or a JSON array. All are created, or none (422 names the row and field).
#[utoipa::path(
    tag = "stories",
    params(("id" = i64, Path, description = "The session's id")),
    request_body(content(
        (Vec<ImportStory> = "application/json"),
        (String = "text/csv", example = "ticket_number,title,description\nSHOP-1,Guest checkout,<p>No account needed</p>")
    )),
    responses(
        (status = 201, body = Vec<StoryView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[post("/api/sessions/{id}/stories/import")]
pub async fn import(
    state: web::Data<AppState>,
    identity: Identity,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    identity.require_admin()?;
    let session_id = parse_id(&path, "session")?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let parse: fn(&[u8]) -> Result<Vec<NewStory>, ApiError> = match content_type.as_str() {
        "text/csv" => from_csv,
        "application/json" => from_json,
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "send text/csv or application/json".into(),
            ))
        }
    };
    let body = read_limited(payload, MAX_IMPORT_BYTES).await?;
    let stories = parse(&body)?;
    if stories.is_empty() {
        return Err(ApiError::invalid("stories", "the import holds no stories"));
    }
    if stories.len() > MAX_IMPORT_STORIES {
        return Err(ApiError::invalid(
            "stories",
            format!("at most {MAX_IMPORT_STORIES} stories per import"),
        ));
    }
    let store = state.store.clone();
    let (created, version) = blocking(move || {
        store
            .import_stories(session_id, &stories)
            .map_err(or_missing("session", session_id))
    })
    .await?;
    log::info!(
        "{} stories imported into session {session_id} by {}",
        created.len(),
        identity.user.username
    );
    state.notify(
        version,
        SessionChange::Edited {
            story: false,
            stories: true,
        },
    );
    state.webhooks.fire(
        crate::webhooks::EventKind::StoriesImported,
        session_id,
        crate::webhooks::stories_imported(&created),
    );
    Ok(HttpResponse::Created().json(created.iter().map(StoryView::from).collect::<Vec<_>>()))
}

/// The session's stories as CSV: `ticket_number,title,description,story_points,votes`.
#[utoipa::path(
    tag = "stories",
    params(("id" = i64, Path, description = "The session's id")),
    responses(
        (status = 200, content_type = "text/csv", body = String),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("cookie" = []), ("bearer" = []))
)]
#[get("/api/sessions/{id}/export")]
pub async fn export(
    state: web::Data<AppState>,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session_id = parse_id(&path, "session")?;
    identity.require_session(Some(session_id), "session")?;
    let store = state.store.clone();
    let csv = blocking(move || {
        let rows = store
            .export_rows(session_id)
            .map_err(or_missing("session", session_id))?;
        let mut writer = csv::Writer::from_writer(Vec::new());
        let fail = |e: csv::Error| ApiError::Internal(format!("csv: {e}"));
        writer
            .write_record([
                "ticket_number",
                "title",
                "description",
                "story_points",
                "votes",
            ])
            .map_err(fail)?;
        for row in rows {
            let votes = row.votes.to_string();
            let s = &row.story;
            writer
                .write_record([
                    &s.ticket_number,
                    &s.title,
                    &s.description,
                    s.story_points.as_deref().unwrap_or(""),
                    &votes,
                ])
                .map_err(fail)?;
        }
        writer
            .into_inner()
            .map_err(|e| ApiError::Internal(format!("csv: {e}")))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"session-{session_id}.csv\""),
        ))
        .body(csv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_row_must_be_an_object() {
        for body in [
            r#"[["T-1", "title", "text"]]"#,
            r#"[[[[22]]]]"#,
            r#"[{"ticket_number": "A"}, 5]"#,
        ] {
            match from_json(body.as_bytes()) {
                Err(ApiError::Invalid { field, .. }) => {
                    assert!(field == "[0]" || field == "[1]", "{body}: {field}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
        assert_eq!(
            from_json(br#"[{"ticket_number": "A-1"}]"#)
                .expect("an object row")
                .len(),
            1
        );
    }
}
