//! The Django original (rheinwerk-verlag's planning-poker 1.0.3 from PyPI), installed by
//! `scripts/django-original.sh` into a virtual environment of the project's own.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The virtual environment with the original installed (made on first use, then reused).
/// Panics, loudly, when it cannot be made: these tests need Python 3.11 and PyPI, as CI has.
pub fn venv() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/django-original.sh");
        let output = std::process::Command::new(&script)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
        assert!(
            output.status.success(),
            "{} failed ({}): it installs the Django original from PyPI and needs python3 \
             (3.8-3.11) with venv and network access to PyPI.\n{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let venv = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
        assert!(
            venv.join("bin/python").exists(),
            "{} printed {stdout:?}, which is no virtual environment",
            script.display()
        );
        venv
    })
    .clone()
}

/// The virtual environment's Python.
pub fn python() -> PathBuf {
    venv().join("bin/python")
}
