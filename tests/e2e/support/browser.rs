//! Browser tests: headless Chromium (Debian's `chromium`) driven through `chromedriver` over
//! WebDriver (fantoccini), against the real server.
//!
//! Every [`Browser`] runs its own `chromedriver` on a free port with a fresh profile; it is shut
//! down with [`Browser::close`], or killed (with its whole process group, Chromium included)
//! when dropped. Nothing is downloaded: `scripts/ensure-deps.sh` installs both from Debian.
//!
//! The browsers reach the server through a [`Proxy`], a fixed local port that forwards to the
//! server's current port, so a page keeps its address across a server restart (the harness
//! restarts the server on a new port), as it would behind a real deployment's fixed address.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::TestUser;

/// How long to wait for something a page must show.
pub const UI_TIMEOUT: Duration = Duration::from_secs(10);
/// How often to look again while waiting.
const POLL: Duration = Duration::from_millis(50);
/// How long chromedriver may take to answer its status once started (a loaded machine).
const DRIVER_READY: Duration = Duration::from_secs(60);
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Where screenshots go: `<workspace>/test-output/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-output/screenshots");
    std::fs::create_dir_all(&dir).expect("create test-output/screenshots");
    dir
}

/// How a chromedriver start ended.
enum DriverStart {
    Ready,
    /// It exited before it answered (its port was taken, say).
    Exited(std::process::ExitStatus),
    /// Still running, not ready within [`DRIVER_READY`].
    NotReady,
}

impl std::fmt::Display for DriverStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriverStart::Ready => write!(f, "ready"),
            DriverStart::Exited(status) => write!(f, "exited before it was ready ({status})"),
            DriverStart::NotReady => write!(f, "did not get ready within {DRIVER_READY:?}"),
        }
    }
}

/// Waits until the chromedriver at `url` says it is ready, it exits, or [`DRIVER_READY`] passes.
async fn wait_for_driver(http: &reqwest::Client, url: &str, driver: &mut Child) -> DriverStart {
    let deadline = tokio::time::Instant::now() + DRIVER_READY;
    loop {
        if let Ok(Some(status)) = driver.try_wait() {
            return DriverStart::Exited(status);
        }
        let ready = http
            .get(format!("{url}/status"))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success());
        if let Some(response) = ready {
            let status: Value = response.json().await.unwrap_or(Value::Null);
            if status["value"]["ready"] == json!(true) {
                return DriverStart::Ready;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return DriverStart::NotReady;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A TCP forwarder from a fixed local port to the server's current port.
pub struct Proxy {
    port: u16,
    target: Arc<AtomicU16>,
    /// Bumped to drop every forwarded connection.
    cut: watch::Sender<u64>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free port and forwards every connection to `127.0.0.1:target`.
    pub async fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let target = Arc::new(AtomicU16::new(target));
        let (cut, _) = watch::channel(0u64);
        let accept = {
            let target = target.clone();
            let cut = cut.clone();
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let upstream = target.load(Ordering::SeqCst);
                    let mut cut = cut.subscribe();
                    tokio::spawn(async move {
                        // A server that is down: the browser sees the connection fail.
                        let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", upstream)).await
                        else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            })
        };
        Proxy {
            port,
            target,
            cut,
            accept,
        }
    }

    /// `http://127.0.0.1:PORT`: the address the browsers use.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forwards new connections to another port (the restarted server's).
    pub fn retarget(&self, target: u16) {
        self.target.store(target, Ordering::SeqCst);
    }

    /// Drops every open connection (the browsers see their sockets fail).
    pub fn cut(&self) {
        self.cut.send_modify(|generation| *generation += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// A window size: a laptop's and a phone's.
#[derive(Debug, Clone, Copy)]
pub enum Size {
    Laptop,
    Phone,
}

impl Size {
    fn pixels(self) -> (u32, u32) {
        match self {
            Size::Laptop => (1280, 800),
            Size::Phone => (390, 1100),
        }
    }
}

/// One headless Chromium with its own chromedriver and profile.
pub struct Browser {
    /// Who uses it, for failure messages.
    pub name: String,
    client: Option<Client>,
    driver: Child,
    driver_url: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium at laptop size, in English.
    pub async fn start(name: &str) -> Browser {
        Browser::start_in(name, "en-US").await
    }

    /// As [`start`](Self::start), with the browser's preferred language `language` (a BCP 47
    /// tag such as `de-DE`), as a user's browser sends it.
    pub async fn start_in(name: &str, language: &str) -> Browser {
        // Browsers start two at a time: a dozen chromedrivers and Chromiums starting at once on
        // a 2-core machine, beside the rest of the suite, took longer than any sane wait. Only
        // the start is metered (a test that holds two browsers cannot block another's start).
        static STARTING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
        let _starting = STARTING
            .acquire()
            .await
            .expect("the semaphore is never closed");
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(binary).exists(),
                "{binary} is missing: run scripts/ensure-deps.sh (it installs chromium and \
                 chromium-driver), or ./scripts/test.sh which calls it"
            );
        }
        let profile = tempfile::Builder::new()
            .prefix("pp-chromium-")
            .tempdir()
            .expect("create a Chromium profile directory");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build the HTTP client");
        let log = profile.path().join("chromedriver.log");
        // A port found free can be taken by another test's process before chromedriver binds
        // it; chromedriver then exits at once, and it is started again on another port.
        let mut attempt = 1;
        let (driver, driver_url) = loop {
            let port = super::free_port();
            let mut driver = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group, so Drop can kill Chromium along with it.
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}"));
            let driver_url = format!("http://127.0.0.1:{port}");
            match wait_for_driver(&http, &driver_url, &mut driver).await {
                DriverStart::Ready => break (driver, driver_url),
                DriverStart::Exited(status) if attempt < 3 => {
                    eprintln!(
                        "{name}: chromedriver on port {port} exited at once ({status}); \
                         starting it again on another port"
                    );
                    attempt += 1;
                }
                outcome => {
                    let printed = std::fs::read_to_string(&log).unwrap_or_default();
                    let lines: Vec<&str> = printed.lines().collect();
                    let tail = &lines[lines.len().saturating_sub(20)..];
                    panic!(
                        "{name}: chromedriver on port {port} (attempt {attempt}): {outcome}; \
                         the end of its log:\n{}",
                        tail.join("\n")
                    );
                }
            }
        };
        let mut browser = Browser {
            name: name.to_string(),
            client: None,
            driver,
            driver_url,
            http,
            _profile: profile,
        };
        let (width, height) = Size::Laptop.pixels();
        let profile_dir = browser._profile.path().to_str().expect("UTF-8 temp path");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--disable-extensions",
                    "--disable-crash-reporter",
                    "--disable-breakpad",
                    "--password-store=basic",
                    format!("--lang={language}"),
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={profile_dir}"),
                ],
                "prefs": {"intl.accept_languages": language},
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!("the capabilities are an object"),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&browser.driver_url)
            .await
            .unwrap_or_else(|e| panic!("{name}: start a Chromium session: {e}"));
        browser.client = Some(client);
        browser
    }

    /// The name it was started with (in messages).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The WebDriver client.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the browser is running")
    }

    async fn session_id(&self) -> String {
        self.client()
            .session_id()
            .await
            .expect("ask for the session id")
            .expect("the WebDriver session has an id")
    }

    /// Sends a DevTools command through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let url = format!(
            "{}/session/{}/goog/cdp/execute",
            self.driver_url,
            self.session_id().await
        );
        let response = self
            .http
            .post(url)
            .json(&json!({"cmd": cmd, "params": params}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: DevTools {cmd}: {e}", self.name));
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "{}: DevTools {cmd} failed: {body}",
            self.name
        );
        body["value"].clone()
    }

    /// Emulates the system's light or dark setting (`prefers-color-scheme`).
    pub async fn set_dark(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": value}]}),
        )
        .await;
    }

    /// Resizes the window.
    pub async fn set_size(&self, size: Size) {
        let (width, height) = size.pixels();
        self.client()
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("{}: resize the window: {e}", self.name));
    }

    /// Saves a PNG of the window as `test-output/screenshots/NAME.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        // Let transitions (say, to the dark colours just switched on) finish first.
        self.wait_js(
            "document.getAnimations().every(a => a.playState !== 'running' \
             || a.effect.getComputedTiming().iterations === Infinity)",
            vec![],
            "the page to settle for a screenshot",
        )
        .await;
        let png = self
            .client()
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("{}: take a screenshot: {e}", self.name));
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Opens a URL and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("{}: open {url}: {e}", self.name));
    }

    /// Reloads the current page and waits for it to load.
    pub async fn reload(&self) {
        self.client()
            .refresh()
            .await
            .unwrap_or_else(|e| panic!("{}: reload the page: {e}", self.name));
    }

    /// The path (and query) of the current page.
    pub async fn path(&self) -> String {
        let url = self
            .client()
            .current_url()
            .await
            .unwrap_or_else(|e| panic!("{}: read the current URL: {e}", self.name));
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Runs JavaScript (a function body; `arguments` holds `args`) and returns its result.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client()
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{}: run script {script:?}: {e}", self.name))
    }

    /// Waits until the JavaScript expression is truthy; panics with `what` after [`UI_TIMEOUT`].
    pub async fn wait_js(&self, expression: &str, args: Vec<Value>, what: &str) {
        self.wait_js_within(expression, args, what, UI_TIMEOUT)
            .await;
    }

    /// Like [`wait_js`](Self::wait_js) with another timeout.
    pub async fn wait_js_within(
        &self,
        expression: &str,
        args: Vec<Value>,
        what: &str,
        within: Duration,
    ) {
        let script = format!("try {{ return !!({expression}); }} catch (e) {{ return false; }}");
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Navigations may briefly make the script fail; that counts as "not yet".
            if let Ok(Value::Bool(true)) = self.client().execute(&script, args.clone()).await {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let body = self
                    .js(
                        "return document.body ? document.body.innerText : ''",
                        vec![],
                    )
                    .await;
                panic!(
                    "{}: waited {within:?} for {what}; on {} the page reads:\n{}",
                    self.name,
                    self.path().await,
                    body.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for an element matching the CSS selector, and returns it.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.wait_js(
            "document.querySelector(arguments[0])",
            vec![json!(css)],
            &format!("an element {css:?}"),
        )
        .await;
        self.find(css).await
    }

    /// Waits until no element matches the CSS selector.
    pub async fn wait_gone(&self, css: &str) {
        self.wait_js(
            "!document.querySelector(arguments[0])",
            vec![json!(css)],
            &format!("no element {css:?}"),
        )
        .await;
    }

    /// Waits until an element matching the selector is visible (rendered with a size).
    pub async fn wait_visible(&self, css: &str) {
        self.wait_js(
            "(() => { const e = document.querySelector(arguments[0]); \
             return e && e.checkVisibility() && e.getClientRects().length > 0; })()",
            vec![json!(css)],
            &format!("a visible {css:?}"),
        )
        .await;
    }

    /// Waits until no element matching the selector is visible.
    pub async fn wait_hidden(&self, css: &str) {
        self.wait_js(
            "(() => { const e = document.querySelector(arguments[0]); \
             return !e || !e.checkVisibility(); })()",
            vec![json!(css)],
            &format!("no visible {css:?}"),
        )
        .await;
    }

    /// Waits until the text of the first element matching `css` contains `text`.
    pub async fn wait_text(&self, css: &str, text: &str) {
        self.wait_js(
            "(() => { const e = document.querySelector(arguments[0]); \
             return e && e.textContent.includes(arguments[1]); })()",
            vec![json!(css), json!(text)],
            &format!("{css:?} to contain {text:?}"),
        )
        .await;
    }

    /// Waits until the current path (with query) is `path`.
    pub async fn wait_path(&self, path: &str) {
        self.wait_js(
            "location.pathname + location.search === arguments[0] \
             && document.readyState === 'complete'",
            vec![json!(path)],
            &format!("the page {path}"),
        )
        .await;
    }

    /// The first element matching the CSS selector (it must exist).
    pub async fn find(&self, css: &str) -> Element {
        self.client()
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: find {css:?}: {e}", self.name))
    }

    /// How many elements match the CSS selector.
    pub async fn count(&self, css: &str) -> usize {
        self.js(
            "return document.querySelectorAll(arguments[0]).length",
            vec![json!(css)],
        )
        .await
        .as_u64()
        .unwrap_or(0) as usize
    }

    /// The text content of the first element matching `css` (empty when there is none).
    pub async fn text(&self, css: &str) -> String {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_string()
    }

    /// The name of the process that served the current page, from its footer ("Served by …").
    pub async fn served_by(&self) -> String {
        self.text("footer.served-by .served-by-name").await
    }

    /// The text contents of all elements matching `css`, trimmed.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let value = self
            .js(
                "return [...document.querySelectorAll(arguments[0])]\
                 .map(e => e.textContent.trim())",
                vec![json!(css)],
            )
            .await;
        value
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Clicks the element matching the selector, as a user would (it must be visible and
    /// enabled).
    pub async fn click(&self, css: &str) {
        self.wait_visible(css).await;
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("{}: click {css:?}: {e}", self.name));
    }

    /// Replaces the value of an input by typing `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.wait_for(css).await;
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("{}: clear {css:?}: {e}", self.name));
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("{}: type into {css:?}: {e}", self.name));
    }

    /// Logs in through the login page and waits for the page it leads to (`next`).
    pub async fn login(&self, base_url: &str, username: &str, password: &str, next: &str) {
        let query: String = url_encode(next);
        self.goto(&format!("{base_url}/login?next={query}")).await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("#login-form button[type=submit]").await;
        self.wait_path(next).await;
    }

    /// Everything the page reported as an error: the page's own collector (`window.__errors`:
    /// uncaught errors, unhandled rejections, CSP violations) and Chromium's console log at
    /// level SEVERE (failed loads, CSP reports, errors logged by scripts).
    pub async fn console_errors(&self) -> Vec<String> {
        let mut errors: Vec<String> = self
            .js("return window.__errors || []", vec![])
            .await
            .as_array()
            .map(|a| a.iter().map(|v| v.to_string()).collect())
            .unwrap_or_default();
        errors.extend(self.browser_log().await.into_iter().filter_map(|entry| {
            (entry["level"] == "SEVERE")
                .then(|| entry["message"].as_str().unwrap_or_default().to_string())
        }));
        errors
    }

    /// Chromium's console entries since the last call (chromedriver's `se/log`).
    async fn browser_log(&self) -> Vec<Value> {
        let url = format!(
            "{}/session/{}/se/log",
            self.driver_url,
            self.session_id().await
        );
        let response = self
            .http
            .post(url)
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: read the console log: {e}", self.name));
        let body: Value = response.json().await.unwrap_or(Value::Null);
        body["value"].as_array().cloned().unwrap_or_default()
    }

    /// Asserts that the page reported no errors (see [`console_errors`](Self::console_errors)).
    pub async fn assert_no_console_errors(&self) {
        let errors = self.console_errors().await;
        assert!(
            errors.is_empty(),
            "{}: the browser reported errors:\n{}",
            self.name,
            errors.join("\n")
        );
    }

    /// Asserts that the page reported no errors other than ones containing one of `expected`
    /// (for example the status of a request the test made fail on purpose).
    pub async fn assert_no_console_errors_except(&self, expected: &[&str]) {
        let errors: Vec<String> = self
            .console_errors()
            .await
            .into_iter()
            .filter(|e| !expected.iter().any(|x| e.contains(x)))
            .collect();
        assert!(
            errors.is_empty(),
            "{}: the browser reported errors:\n{}",
            self.name,
            errors.join("\n")
        );
    }

    /// Ends the WebDriver session (Chromium quits) and chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        }
        // chromedriver's own way out; the process group is killed only if that fails.
        let _ = self
            .http
            .get(format!("{}/shutdown", self.driver_url))
            .send()
            .await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.driver.wait()).await;
        self.kill_group();
        let _ = self.driver.wait().await;
    }

    /// Kills chromedriver's process group: chromedriver and any Chromium it started.
    fn kill_group(&mut self) {
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Also after a test failed midway.
        self.kill_group();
    }
}

// ---------------------------------------------------------------------------------------------
// The poker session page (`/sessions/{id}`), shared by the browser tests.

/// A browser logged in as `user` (through the login page at `base_url`) on the session page,
/// connected.
pub async fn open_session(base_url: &str, user: &TestUser, session_id: i64) -> Browser {
    let browser = Browser::start(&user.username).await;
    browser
        .login(
            base_url,
            &user.username,
            &user.password,
            &format!("/sessions/{session_id}"),
        )
        .await;
    browser.wait_for("#conn[data-state=open]").await;
    browser
}

/// Waits until the participants button reads "N here".
pub async fn wait_participants(browser: &Browser, count: usize) {
    browser
        .wait_text("#participants-count", &format!("{count} here"))
        .await;
}

/// Waits until the page shows `label` as the current story.
pub async fn wait_story(browser: &Browser, label: &str) {
    browser
        .wait_js(
            "document.querySelector('#story-label').textContent === arguments[0] \
             && !document.querySelector('#story-current').hidden",
            vec![json!(label)],
            &format!("the current story {label:?}"),
        )
        .await;
}

/// The revealed votes as `option: voter, voter`, in the order shown (a JavaScript expression).
const REVEALED_VOTES: &str = "[...document.querySelectorAll('#votes .vote-group:not(.face-down)')]\
     .map(g => g.dataset.option + ': ' + [...g.querySelectorAll('.voter-names li')]\
     .map(li => li.textContent).join(', '))";

/// The revealed votes as `option: voter, voter` strings, in the order shown.
pub async fn revealed_votes(browser: &Browser) -> Vec<String> {
    let value = browser
        .js(&format!("return {REVEALED_VOTES}"), vec![])
        .await;
    value
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the revealed votes read exactly `expected`.
pub async fn wait_votes(browser: &Browser, expected: &[&str]) {
    browser
        .wait_js(
            &format!("JSON.stringify({REVEALED_VOTES}) === arguments[0]"),
            vec![json!(serde_json::to_string(expected).expect("JSON"))],
            &format!("the votes {expected:?}"),
        )
        .await;
}

/// The points shown for each story in the stories overview.
pub async fn story_points(browser: &Browser) -> Vec<String> {
    browser.texts("#stories-list .story-item .badge").await
}

/// Percent-encodes a query parameter value.
pub fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
