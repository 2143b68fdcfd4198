//! The Django original (rheinwerk-verlag's planning-poker 1.0.3 from PyPI), installed by
//! `scripts/django-original.sh` into a virtual environment of the project's own, for the tests
//! that make data with it (`import_django`) and serve its page (`original_client`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// How long the first install may take (a download from PyPI).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

/// The virtual environment with the original installed: made on first use, then reused (the
/// script takes a lock, so parallel tests wait for one install). Panics, loudly, when it cannot
/// be made: these tests need python3 (3.8–3.11) and PyPI, as CI has.
pub async fn venv() -> PathBuf {
    static VENV: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    VENV.get_or_init(|| async {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/django-original.sh");
        let what = format!(
            "{} (installs the Django original from PyPI: these tests need python3 3.8-3.11 \
             with venv, and PyPI, which CI has)",
            script.display()
        );
        let run = Command::new("bash")
            .arg(&script)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(INSTALL_TIMEOUT, run)
            .await
            .unwrap_or_else(|_| panic!("{what} did not finish within {INSTALL_TIMEOUT:?}"))
            .unwrap_or_else(|e| panic!("{what}: cannot run it: {e}"));
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{what} failed ({}):\n{printed}",
            output.status
        );
        let venv = PathBuf::from(printed.lines().last().unwrap_or_default().trim());
        assert!(
            venv.join("bin/python").is_file(),
            "{what} printed no virtual environment: {printed:?}"
        );
        venv
    })
    .await
    .clone()
}

/// The virtual environment's Python.
pub async fn python() -> PathBuf {
    venv().await.join("bin/python")
}

/// The folder of the Python files these tests run with it (settings, scripts).
pub fn scripts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/django_original")
}
