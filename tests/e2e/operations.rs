//! The operations endpoints of PROTOCOL.md section 4.

use diesel::{Connection, RunQueryDsl};
use serde_json::json;

use crate::support::{Backend, Server};

both_backends!(healthz_and_readyz_answer_while_the_database_does);

async fn healthz_and_readyz_answer_while_the_database_does(backend: Backend) {
    let server = Server::start(backend).await;
    let http = server.http();
    http.get("/healthz").await.expect_status(200, "healthz");
    let ready = http.get("/readyz").await.expect_status(200, "readyz");
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(ready["database"], json!(name));

    if backend == Backend::Postgres {
        // Take the database away under the running server: not ready, but still alive.
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .expect("TEST_DATABASE_URL is set for PostgreSQL runs");
        let db = server
            .database_url()
            .rsplit('/')
            .next()
            .expect("a database name")
            .to_string();
        let mut conn =
            diesel::PgConnection::establish(&admin_url).expect("connect to TEST_DATABASE_URL");
        diesel::sql_query(format!("DROP DATABASE \"{db}\" WITH (FORCE)"))
            .execute(&mut conn)
            .expect("drop the server's database");
        http.get("/readyz")
            .await
            .expect_status(503, "readyz without a database");
        http.get("/healthz")
            .await
            .expect_status(200, "healthz without a database");
    }
}
