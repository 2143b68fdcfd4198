//! Lets the end-to-end tests know at compile time whether PostgreSQL and Redis are available, so
//! that without `TEST_DATABASE_URL` (or `TEST_REDIS_URL`) the tests that need them show up as
//! *ignored* with a reason, instead of passing silently.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rustc-check-cfg=cfg(redis_tests)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=TEST_REDIS_URL");
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
    if std::env::var("TEST_REDIS_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=redis_tests");
    }
}
