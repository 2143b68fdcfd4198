//! The planning-poker server: actors for live sessions, the WebSocket endpoint, the REST API,
//! authentication and operations endpoints, put together by [`serve`].

pub mod access;
pub mod api;
pub mod auth;
pub mod error;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod ops;
pub mod pages;
pub mod passwords;
pub mod settings;
pub mod setup;
pub mod throttle;
pub mod webhooks;
pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web::{middleware, web, App, HttpResponse, HttpServer};
use poker_db::Store;
use secrecy::ExposeSecret;
use utoipa_actix_web::AppExt;

use crate::auth::CookieSettings;
use crate::error::ApiError;
use crate::live::registry::SessionRegistry;
use crate::live::LiveConfig;
pub use crate::settings::Settings;

/// What every request handler shares.
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub cookies: CookieSettings,
    pub registry: Addr<SessionRegistry>,
    pub live: Arc<LiveConfig>,
    /// Renders `/metrics`; `None` if the recorder could not be installed.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Failed logins per username and address.
    pub login_throttle: throttle::LoginThrottle,
    /// The other processes sharing live sessions (through Redis), if any.
    pub cluster: live::cluster::Cluster,
    /// Where events for webhooks are fired.
    pub webhooks: webhooks::Webhooks,
}

impl AppState {
    /// Tells a live session about a change made over REST, committed as `version`: its actor
    /// here (if any) and the other processes apply it in the session's one order.
    pub fn notify(&self, version: poker_db::SessionVersion, change: live::change::SessionChange) {
        self.cluster
            .publish_change(version.session_id, version.version, &change);
        self.registry.do_send(live::messages::Notify {
            session_id: version.session_id,
            version: version.version,
            change,
        });
    }

    /// Tells a live session, here and in the other processes, that it was deleted.
    pub fn notify_deleted(&self, session_id: i64) {
        self.cluster.publish_deleted(session_id);
        self.registry
            .do_send(live::messages::NotifyDeleted { session_id });
    }

    /// Tells every live session about a change (a user's rights, a login that ended), and
    /// returns once each session has it queued: an event a socket sends after the caller
    /// answers is judged after the change.
    pub async fn notify_all(&self, change: live::messages::Changed) {
        self.cluster.publish_users(&change);
        if self
            .registry
            .send(live::messages::NotifyAll { change })
            .await
            .is_err()
        {
            log::warn!("the session registry is gone; live sessions were not told of a change");
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] poker_db::DbError),
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Opens (and migrates) the configured database. The error is redacted: drivers and URL
/// checks may quote the URL, password included.
pub fn open_store(settings: &Settings) -> Result<Store, StartError> {
    Store::open(
        settings.database_url.expose_secret(),
        settings.database_pool_size,
        settings.database_timeout(),
    )
    .map_err(|e| StartError::Config(settings.redactor().redact(&e.to_string())))
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such page or endpoint".into()))
}

/// Every route of the server, registered so that each lands in the OpenAPI document.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    pages::routes(cfg);
    ops::routes(cfg);
    api::routes(cfg);
    ws::routes(cfg);
}

/// Runs the server until it is stopped. Prints `planning-poker listening on http://ADDR` once
/// the socket is bound (tests and scripts wait for that line).
pub async fn serve(settings: Settings) -> Result<(), StartError> {
    // Secrets print as redacted (SecretString); secrets_in_logs checks it at this level.
    log::debug!("settings: {settings:?}");
    let settings = Arc::new(settings);
    let redis_url = settings.redis_url.expose_secret().trim().to_string();
    if !redis_url.is_empty()
        && !settings
            .database_url
            .expose_secret()
            .starts_with("postgres")
    {
        return Err(StartError::Config(
            "REDIS_URL is set, but the database is SQLite: processes sharing live sessions \
             through Redis must share one PostgreSQL database (set DATABASE_URL to a \
             postgres:// URL), and SQLite belongs to one process. Unset REDIS_URL to run \
             one process on SQLite."
                .into(),
        ));
    }
    // A little over a live write's deadline: a checkout plus the query itself.
    error::set_blocking_deadline(settings.database_timeout() * 2);
    let store = {
        let settings = settings.clone();
        web::block(move || -> Result<Store, StartError> {
            let store = open_store(&settings)?;
            setup::ensure_admin(&store, settings.admin_password.expose_secret())
                .map_err(StartError::Config)?;
            Ok(store)
        })
        .await
        .map_err(|e| StartError::Config(e.to_string()))??
    };
    let cookies = {
        let (store, settings) = (store.clone(), settings.clone());
        web::block(move || {
            CookieSettings::load(
                &store,
                settings.cookie_key.expose_secret(),
                settings.cookie_secure,
                settings.login_days,
            )
        })
        .await
        .map_err(|e| StartError::Config(e.to_string()))?
        .map_err(StartError::Config)?
    };
    // Checked when the settings were loaded; read again here for the client.
    let roots = settings
        .webhook_roots()
        .map_err(|e| StartError::Config(e.to_string()))?;
    let webhooks = webhooks::Webhooks::start(store.clone(), settings.webhook_schedule(), roots);
    let live = Arc::new(LiveConfig {
        webhooks: webhooks.clone(),
        client_timeout: settings.client_timeout(),
        ping_interval: settings.ping_interval(),
        end_redirect_url: settings.session_end_redirect_url.clone(),
        socket_backlog_bytes: settings.socket_backlog_bytes,
    });
    let cluster = if redis_url.is_empty() {
        live::cluster::Cluster::alone()
    } else {
        let process = live::cluster::process_name(&settings.instance_name);
        let backplane =
            poker_backplane::Backplane::connect(&redis_url, &settings.redis_prefix, process)
                .await
                .map_err(|e| StartError::Config(settings.redactor().redact(&e.to_string())))?;
        if !backplane.is_up() {
            log::error!(
                "backplane: Redis does not answer yet ({}); starting anyway, not ready until it \
                 does",
                backplane.problem().unwrap_or_default()
            );
        }
        log::info!(
            "backplane: sharing live sessions as process {}",
            backplane.process()
        );
        live::cluster::Cluster::shared(backplane, settings.version_check())
    };
    let registry = SessionRegistry::new(store.clone(), (*live).clone(), cluster.clone()).start();
    let registry_for_shutdown = registry.clone();
    let cluster_for_shutdown = cluster.clone();
    let metrics = metrics::install()
        .map_err(|e| log::error!("metrics are off: {e}"))
        .ok();
    let state = web::Data::new(AppState {
        store: store.clone(),
        settings: settings.clone(),
        cookies,
        registry,
        live,
        metrics,
        login_throttle: throttle::LoginThrottle::new(throttle::Rule::default()),
        cluster,
        webhooks,
    });

    let server = HttpServer::new(move || {
        let (app, doc) = App::new()
            .into_utoipa_app()
            .openapi(<api::docs::ApiDoc as utoipa::OpenApi>::openapi())
            .configure(routes)
            .split_for_parts();
        let doc = doc
            .to_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        app.app_data(web::Data::new(api::docs::OpenApiJson(doc)))
            .app_data(state.clone())
            .wrap(
                middleware::DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    // Which replica answered, behind a balancer (checked in settings to be a
                    // valid header value).
                    .add(("X-Served-By", state.settings.instance_name.as_str())),
            )
            // `/ws/poker/1/` and `/ws/poker/1` are the same route.
            .wrap(middleware::NormalizePath::trim())
            // Outermost: a request id and an access line for every request, as it was sent.
            .wrap(middleware::from_fn(access::middleware))
            .default_service(web::to(not_found))
    })
    // Signals are ours: SIGTERM closes sockets with 1001 before the server stops.
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
    // Frames are small and latency matters more than packet count: no Nagle delay.
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
            // Output unacknowledged this long (a client gone, or one advertising a zero window
            // because it stopped reading) ends the connection; sessions stop sending to such a
            // socket long before (see `live::outbox`).
            let _ = socket2::SockRef::from(tcp).set_tcp_user_timeout(Some(UNACKED_OUTPUT_LIMIT));
        }
    })
    // A client has this long to send a request's head (Slowloris: a head sent a byte at a time
    // holds a connection); then it gets 408 and the connection closes. Bodies have their own
    // bound (`api::body`). Explicit, though it is actix's default, because it is a defence.
    .client_request_timeout(Duration::from_secs(5))
    // An idle kept-alive connection is closed after this; longer than a balancer in front keeps
    // its idle connections to us (config/default.toml says why).
    .keep_alive(settings.keep_alive())
    // After the answer to a closing connection, the client has this long to hang up before
    // the server drops the socket itself.
    .client_disconnect_timeout(Duration::from_secs(1))
    .bind(&settings.bind)
    .map_err(|source| StartError::Bind {
        addr: settings.bind.clone(),
        source,
    })?;
    for addr in server.addrs() {
        println!("planning-poker listening on http://{addr}");
    }
    log::info!("database: {}", store.backend());
    log::info!("instance name (X-Served-By): {}", settings.instance_name);
    let server = server.run();
    actix_web::rt::spawn(shut_down_on_signal(
        server.handle(),
        registry_for_shutdown,
        cluster_for_shutdown,
    ));
    server.await?;
    log::info!("stopped");
    Ok(())
}

/// How long a connection may have output that its client does not acknowledge.
const UNACKED_OUTPUT_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Longest a graceful stop waits for requests still running once sockets are closed.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// On SIGTERM or SIGINT (Ctrl-C): stop accepting connections, close every socket with 1001 once
/// its session's write in flight has been answered, then stop the server, letting requests in
/// progress finish for up to [`SHUTDOWN_GRACE`]. The whole takes well under 10 s.
async fn shut_down_on_signal(
    server: actix_web::dev::ServerHandle,
    registry: Addr<SessionRegistry>,
    cluster: live::cluster::Cluster,
) {
    use actix_web::rt::signal;
    let terminate = async {
        match signal::unix::signal(signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(e) => {
                log::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    let which = futures_util::future::select(Box::pin(terminate), Box::pin(signal::ctrl_c())).await;
    let name = match which {
        futures_util::future::Either::Left(_) => "SIGTERM",
        futures_util::future::Either::Right(_) => "SIGINT",
    };
    log::info!("{name}: shutting down; closing sockets with 1001");
    server.pause().await;
    let closing = registry.send(live::messages::GoingAway);
    if actix_web::rt::time::timeout(SHUTDOWN_GRACE, closing)
        .await
        .is_err()
    {
        log::warn!("some sessions did not close their sockets in time");
    }
    // Every session has told the other processes its members left; Redis may go now.
    cluster.close();
    server.stop(true).await;
}
