//! Helpers for the REST admin API scenarios (`rest_*.rs`): the methods the basic client lacks
//! (PATCH, PUT, DELETE, raw bodies, answers with headers), building sessions and stories over
//! REST, driving votes over sockets, and checking field errors, CSV and sanitized HTML.

use reqwest::Method;
use serde_json::{json, Value};

use super::{Http, Reply, Server, TestUser, WsClient, SILENCE};

/// The body of the catch-all 404 the server gives for a path (or method) it has no route for.
pub fn catch_all_404() -> Value {
    json!({"error": {"code": "not_found", "message": "no such page or endpoint"}})
}

/// An answer with its `Content-Type` and raw text (for CSV and other non-JSON answers).
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    pub content_type: Option<String>,
    pub text: String,
}

/// The REST methods the admin scenarios need beyond `get`/`post`.
pub trait AdminHttp {
    /// `PATCH path` with a JSON body.
    fn patch_json(&self, path: &str, body: Value) -> impl std::future::Future<Output = Reply>;
    /// `PUT path` with a JSON body.
    fn put_json(&self, path: &str, body: Value) -> impl std::future::Future<Output = Reply>;
    /// `DELETE path`.
    fn delete_at(&self, path: &str) -> impl std::future::Future<Output = Reply>;
    /// Any method with a raw body and (if given) a `Content-Type`.
    fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> impl std::future::Future<Output = Reply>;
    /// `GET path`, answering the status, `Content-Type` and the text as it came.
    fn get_text(&self, path: &str) -> impl std::future::Future<Output = RawReply>;
}

impl AdminHttp for Http {
    async fn patch_json(&self, path: &str, body: Value) -> Reply {
        self.send(
            format!("PATCH {path}"),
            self.client.patch(self.url(path)).json(&body),
        )
        .await
    }

    async fn put_json(&self, path: &str, body: Value) -> Reply {
        self.send(
            format!("PUT {path}"),
            self.client.put(self.url(path)).json(&body),
        )
        .await
    }

    async fn delete_at(&self, path: &str) -> Reply {
        self.send(format!("DELETE {path}"), self.client.delete(self.url(path)))
            .await
    }

    async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self.client.request(method.clone(), self.url(path));
        if let Some(content_type) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        }
        self.send(format!("{method} {path}"), request.body(body))
            .await
    }

    async fn get_text(&self, path: &str) -> RawReply {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: the request failed: {e}"));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| v.to_str().expect("Content-Type is ASCII").to_string());
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: reading the body failed: {e}"));
        RawReply {
            status,
            content_type,
            text,
        }
    }
}

/// Sends a body the server must refuse as too large (413). The server answers before reading
/// the body and closes the connection, so a client still writing may see the connection reset
/// instead of the answer; such transport failures are retried (a few times) and logged.
pub async fn send_too_large(
    http: &Http,
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Reply {
    const ATTEMPTS: usize = 5;
    for attempt in 1..=ATTEMPTS {
        let sent = http
            .client
            .request(method.clone(), http.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body.clone())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                let mut cause = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(inner) = source {
                    cause.push_str(&format!(": {inner}"));
                    source = inner.source();
                }
                eprintln!(
                    "{method} {path} ({} bytes), attempt {attempt}/{ATTEMPTS}: no answer ({cause})",
                    body.len()
                );
                continue;
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        return Reply {
            status,
            body,
            headers,
        };
    }
    panic!("{method} {path}: the server never answered in {ATTEMPTS} attempts");
}

/// The integer `id` of an object answered by the server.
pub fn id_of(value: &Value) -> i64 {
    value["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected an object with an integer id, got {value}"))
}

/// The ids of a list of objects, in order.
pub fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {list}"))
        .iter()
        .map(id_of)
        .collect()
}

/// Asserts a 422 whose `error.field` is `field`; returns the error object.
pub fn expect_invalid(reply: Reply, field: &str, what: &str) -> Value {
    let error = reply.expect_error(422, what);
    assert_eq!(
        error["code"], "invalid",
        "{what}: a validation error has code invalid: {error}"
    );
    assert_eq!(error["field"], field, "{what}: the error names {field}");
    error
}

/// Asserts that the server routed the request (anything but the catch-all 404).
pub fn expect_routed(reply: &Reply, what: &str) {
    assert!(
        !(reply.status == 404 && reply.body == catch_all_404()),
        "{what}: the server has no route for it (catch-all 404 {})",
        reply.body
    );
}

impl Server {
    /// Creates a session as admin (`deck` is left out when `None`) and returns it.
    pub async fn create_session_with_deck(
        &self,
        name: &str,
        poker_date: &str,
        deck: Option<Value>,
    ) -> Value {
        let mut body = json!({"name": name, "poker_date": poker_date});
        if let Some(deck) = deck {
            body["deck"] = deck;
        }
        self.admin()
            .await
            .post("/api/sessions", body)
            .await
            .expect_status(201, &format!("create session {name}"))
    }

    /// Appends a story (ticket number and title) to a session as admin and returns it.
    pub async fn add_story(&self, session_id: i64, ticket_number: &str, title: &str) -> Value {
        self.admin()
            .await
            .post(
                &format!("/api/sessions/{session_id}/stories"),
                json!({"ticket_number": ticket_number, "title": title}),
            )
            .await
            .expect_status(201, &format!("create story {ticket_number}"))
    }

    /// A client authenticated with the user's bearer token.
    pub fn as_user(&self, user: &TestUser) -> Http {
        self.http_with_token(&user.token)
    }

    /// `GET /api/stories/{id}/votes` as the user.
    pub async fn votes_as(&self, user: &TestUser, story_id: i64) -> Value {
        self.as_user(user)
            .get(&format!("/api/stories/{story_id}/votes"))
            .await
            .expect_status(
                200,
                &format!("GET the votes of {story_id} as {}", user.username),
            )
    }

    /// `GET /api/stories/{id}` as admin (200 expected).
    pub async fn story(&self, story_id: i64) -> Value {
        self.admin()
            .await
            .get(&format!("/api/stories/{story_id}"))
            .await
            .expect_status(200, &format!("GET story {story_id}"))
    }
}

/// Reads one frame of `event` on every client and returns their data.
pub async fn expect_on_all(clients: &mut [WsClient], event: &str) -> Vec<Value> {
    let mut data = Vec::new();
    for client in clients.iter_mut() {
        data.push(client.expect_event(event).await);
    }
    data
}

/// Asserts that none of the clients receives anything.
pub async fn expect_all_quiet(clients: &mut [WsClient]) {
    futures_util::future::join_all(clients.iter_mut().map(|c| c.expect_silence())).await;
}

/// Reads every frame that arrives until the socket has been quiet for [`SILENCE`]; for frames
/// the contract allows but does not require.
pub async fn drain(client: &mut WsClient) -> Vec<Value> {
    let mut frames = Vec::new();
    while let Some(message) = client.next_message(SILENCE).await {
        let message = message.unwrap_or_else(|e| panic!("{}: the socket failed: {e}", client.name));
        frames.push(client.parse_frame(message));
    }
    frames
}

/// Makes `story_id` active through the moderator's socket; drains `story_changed` everywhere.
pub async fn activate(clients: &mut [WsClient], moderator: usize, story_id: i64) {
    clients[moderator]
        .send_event("next_story_requested", json!({"story_id": story_id}))
        .await;
    for data in expect_on_all(clients, "story_changed").await {
        assert_eq!(data["id"], story_id, "the requested story became active");
    }
}

/// The client votes; drains the `story_changed` it causes everywhere and returns the frame
/// data as each client saw it.
pub async fn cast(clients: &mut [WsClient], voter: usize, choice: &str) -> Vec<Value> {
    clients[voter]
        .send_event("vote_submitted", json!({"choice": choice}))
        .await;
    expect_on_all(clients, "story_changed").await
}

/// The ids of a `stories_changed` frame's stories, in order.
pub fn frame_story_ids(data: &Value) -> Vec<i64> {
    data["stories"]
        .as_array()
        .unwrap_or_else(|| panic!("stories_changed has a stories array: {data}"))
        .iter()
        .map(|s| {
            s["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("each story has an integer id: {data}"))
        })
        .collect()
}

/// Parses CSV as RFC 4180 has it: comma-separated, fields optionally in double quotes (with
/// `""` for a quote, and commas and line breaks allowed inside), records ending in LF or CRLF.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut started = false;
    while let Some(c) = chars.next() {
        started = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                other => field.push(other),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                started = false;
            }
            other => field.push(other),
        }
    }
    assert!(!quoted, "the CSV ends inside a quoted field: {text:?}");
    if started {
        record.push(field);
        records.push(record);
    }
    records
}

/// A CSV field, quoted when it needs to be.
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// One tag of an HTML fragment: its lowercase name, whether it closes, and its attributes
/// (lowercase names, values with the common entities decoded).
#[derive(Debug, Clone)]
pub struct Tag {
    pub name: String,
    pub closing: bool,
    pub attributes: Vec<(String, String)>,
}

/// Decodes the entities a serializer writes in attribute values (named ones it uses and numeric).
fn decode_entities(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = after;
            continue;
        };
        let entity = &after[..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "nbsp" => Some('\u{a0}'),
            "colon" => Some(':'),
            "Tab" | "tab" => Some('\t'),
            "NewLine" => Some('\n'),
            _ => entity.strip_prefix('#').and_then(|number| {
                let code = match number.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => number.parse().ok(),
                };
                code.and_then(char::from_u32)
            }),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The tags of serialized HTML (as a sanitizer writes it: text never holds a raw `<` that
/// starts a tag name, attribute values are quoted).
pub fn html_tags(html: &str) -> Vec<Tag> {
    let bytes: Vec<char> = html.chars().collect();
    let mut tags = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != '<' {
            i += 1;
            continue;
        }
        i += 1;
        let closing = bytes.get(i) == Some(&'/');
        if closing {
            i += 1;
        }
        if !bytes.get(i).is_some_and(|c| c.is_ascii_alphabetic()) {
            if bytes.get(i) == Some(&'!') {
                // A comment or doctype: skip to its end.
                while i < bytes.len() && bytes[i] != '>' {
                    i += 1;
                }
            }
            continue;
        }
        let mut name = String::new();
        while i < bytes.len() && !bytes[i].is_whitespace() && bytes[i] != '>' && bytes[i] != '/' {
            name.push(bytes[i].to_ascii_lowercase());
            i += 1;
        }
        let mut attributes = Vec::new();
        loop {
            while i < bytes.len() && (bytes[i].is_whitespace() || bytes[i] == '/') {
                i += 1;
            }
            if i >= bytes.len() || bytes[i] == '>' {
                i += 1;
                break;
            }
            let mut attr = String::new();
            while i < bytes.len()
                && !bytes[i].is_whitespace()
                && bytes[i] != '='
                && bytes[i] != '>'
                && bytes[i] != '/'
            {
                attr.push(bytes[i].to_ascii_lowercase());
                i += 1;
            }
            while i < bytes.len() && bytes[i].is_whitespace() {
                i += 1;
            }
            let mut value = String::new();
            if bytes.get(i) == Some(&'=') {
                i += 1;
                while i < bytes.len() && bytes[i].is_whitespace() {
                    i += 1;
                }
                match bytes.get(i) {
                    Some(&quote) if quote == '"' || quote == '\'' => {
                        i += 1;
                        while i < bytes.len() && bytes[i] != quote {
                            value.push(bytes[i]);
                            i += 1;
                        }
                        i += 1;
                    }
                    _ => {
                        while i < bytes.len() && !bytes[i].is_whitespace() && bytes[i] != '>' {
                            value.push(bytes[i]);
                            i += 1;
                        }
                    }
                }
            }
            attributes.push((attr, decode_entities(&value)));
        }
        tags.push(Tag {
            name,
            closing,
            attributes,
        });
    }
    tags
}

/// Elements that must never survive sanitizing.
const FORBIDDEN_TAGS: &[&str] = &[
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math",
    "form", "input", "button", "textarea", "select", "option", "meta", "base", "link", "noscript",
    "template", "body", "html", "head", "title", "xml", "audio", "video", "source", "marquee",
];

/// Attributes that must never survive sanitizing (besides every `on*` handler).
const FORBIDDEN_ATTRIBUTES: &[&str] = &[
    "style",
    "action",
    "formaction",
    "srcdoc",
    "xlink:href",
    "background",
    "dynsrc",
    "lowsrc",
    "autofocus",
    "http-equiv",
];

/// Asserts that sanitized HTML carries nothing that can run: no dangerous elements, no event
/// handlers, no style attributes, no `javascript:`/`vbscript:`/`data:` URLs in any attribute.
pub fn assert_harmless(html: &str, what: &str) {
    for tag in html_tags(html) {
        assert!(
            !FORBIDDEN_TAGS.contains(&tag.name.as_str()),
            "{what}: a <{}> survived sanitizing: {html}",
            tag.name
        );
        for (name, value) in &tag.attributes {
            assert!(
                !name.starts_with("on") && !FORBIDDEN_ATTRIBUTES.contains(&name.as_str()),
                "{what}: the attribute {name} of <{}> survived sanitizing: {html}",
                tag.name
            );
            let url: String = value
                .chars()
                .filter(|c| !c.is_whitespace() && !c.is_control())
                .collect::<String>()
                .to_ascii_lowercase();
            for scheme in ["javascript:", "vbscript:", "data:", "livescript:"] {
                assert!(
                    !url.starts_with(scheme),
                    "{what}: a {scheme} URL survived in {name} of <{}>: {html}",
                    tag.name
                );
            }
        }
    }
    let lower = html.to_ascii_lowercase();
    for needle in ["javascript:", "vbscript:", "<script", "</script"] {
        assert!(
            !lower.contains(needle),
            "{what}: {needle:?} survived sanitizing: {html}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_parser_handles_quotes_and_line_breaks() {
        let records = parse_csv("a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n,,\n");
        assert_eq!(
            records,
            vec![
                vec!["a", "b", "c"],
                vec!["x, y", "say \"hi\"", "two\nlines"],
                vec!["", "", ""],
            ]
        );
    }

    #[test]
    fn tag_scanner_reads_attributes() {
        let tags = html_tags("<p title=\"a &lt;b&gt; &amp; c\">x</p><a href='&#106;s' rel=x>y</a>");
        assert_eq!(tags.len(), 4);
        assert_eq!(tags[0].attributes, [("title".into(), "a <b> & c".into())]);
        assert!(tags[1].closing);
        assert_eq!(tags[2].attributes[0], ("href".into(), "js".into()));
    }
}
