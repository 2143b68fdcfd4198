//! Two jobs at build time:
//!
//! - Lets the end-to-end tests know whether PostgreSQL and Redis are available, so that without
//!   `TEST_DATABASE_URL` (or `TEST_REDIS_URL`) the tests that need them show up as *ignored*
//!   with a reason, instead of passing silently.
//! - Records the git commit the binary is built from, for `planning-poker --version`:
//!   `POKER_GIT_COMMIT` wins when set (a Docker build has no `.git` to ask); otherwise `git` is
//!   asked, and a tree without git says `unknown`. The script reruns when HEAD moves.

use std::process::Command;

fn main() {
    test_services();
    git_commit();
}

fn test_services() {
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

fn git_commit() {
    println!("cargo::rerun-if-env-changed=POKER_GIT_COMMIT");
    let commit = std::env::var("POKER_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(commit_from_git)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo::rustc-env=POKER_GIT_COMMIT={commit}");
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn commit_from_git() -> Option<String> {
    // HEAD itself, the branch it points to, and packed-refs (where a branch may live).
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for path in watched {
        // A missing file would make cargo rerun the script (and rebuild the package) always.
        if let Some(file) = git(&["rev-parse", "--git-path", &path]) {
            if std::path::Path::new(&file).exists() {
                println!("cargo::rerun-if-changed={file}");
            }
        }
    }
    git(&["rev-parse", "--short=12", "HEAD"])
}
