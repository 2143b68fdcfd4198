//! Lets the writer's tests know at compile time whether PostgreSQL is available, so that without
//! `TEST_DATABASE_URL` the tests that need it show up as *ignored* with a reason, instead of
//! passing silently (as the workspace's own build.rs does for the end-to-end tests).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
