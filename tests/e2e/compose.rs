//! The deployment files, checked offline: `docker-compose.yml` is valid for Debian's
//! docker-compose (1.29; `config -q` needs no Docker engine) with the variables `.env.example`
//! documents and without any (a fresh clone has no `.env`), its database and Redis refuse to
//! start without their passwords, and it holds no secret itself;
//! `deploy/haproxy.cfg` passes `haproxy -c`; and the replicas' keep-alive outlasts every idle
//! timeout of the balancer toward them. The tools come from `scripts/ensure-deps.sh`.

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// What must never be written into the compose file: each is a `${...}` reference to `.env`.
const SECRETS: &[&str] = &[
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "ADMIN_PASSWORD",
    "COOKIE_KEY",
    "REDISCLI_AUTH",
];

fn read(file: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(file))
        .unwrap_or_else(|e| panic!("read {file}: {e}"))
}

/// A tool the test needs, or a failure that says how to get it.
fn tool(path: &str, package: &str) -> PathBuf {
    let found = if path.contains('/') {
        Some(PathBuf::from(path)).filter(|p| p.exists())
    } else {
        std::env::var_os("PATH").and_then(|dirs| {
            std::env::split_paths(&dirs)
                .map(|dir| dir.join(path))
                .find(|p| p.exists())
        })
    };
    found.unwrap_or_else(|| {
        panic!(
            "{path} is missing: run scripts/ensure-deps.sh (it installs Debian's {package}), or \
             ./scripts/test.sh which calls it"
        )
    })
}

/// The names of the `${NAME}`, `${NAME:-default}` and `${NAME:?message}` references in a text.
fn references(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .split("${")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `.env.example` as NAME=VALUE pairs, the empty secrets filled with dummy values.
fn example_env_filled() -> String {
    read(".env.example")
        .lines()
        .filter(|line| !line.trim_start().starts_with('#') && line.contains('='))
        .map(|line| match line.split_once('=') {
            Some((name, "")) => format!("{name}=dummy-{}\n", name.to_lowercase()),
            _ => format!("{line}\n"),
        })
        .collect()
}

/// Runs `docker-compose -f docker-compose.yml --env-file FILE config -q` with `env_file` as the
/// file's content and none of the stack's variables inherited; returns (success, stderr).
fn compose_config(env_file: &str) -> (bool, String) {
    let compose = tool("docker-compose", "docker-compose");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let env_path = dir.path().join("stack.env");
    std::fs::write(&env_path, env_file).expect("write the env file");
    let mut cmd = Command::new(compose);
    cmd.current_dir(ROOT)
        .args(["-f", "docker-compose.yml", "--env-file"])
        .arg(&env_path)
        .args(["config", "-q"]);
    for name in references(&read("docker-compose.yml")) {
        cmd.env_remove(name);
    }
    let out = cmd.output().expect("run docker-compose");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_compose_file_is_valid_with_the_documented_variables() {
    let compose = read("docker-compose.yml");
    let example = read(".env.example");
    for name in references(&compose) {
        assert!(
            example
                .lines()
                .any(|line| line.starts_with(&format!("{name}="))),
            "docker-compose.yml uses ${{{name}}}, which .env.example does not document"
        );
    }
    let (ok, stderr) = compose_config(&example_env_filled());
    assert!(
        ok,
        "docker-compose config -q refused the compose file: {stderr}"
    );
    // Compose v2 would take a top-level `name:`, Debian's 1.29 refuses it.
    assert!(
        !compose.lines().any(|line| line.starts_with("name:")),
        "no top-level name: (docker-compose 1.29 refuses it)"
    );
}

#[test]
fn the_compose_file_is_valid_in_a_fresh_clone_without_an_env_file() {
    // Exactly what an operator types in a fresh clone: no .env, no variables set.
    let compose = tool("docker-compose", "docker-compose");
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::copy(
        Path::new(ROOT).join("docker-compose.yml"),
        dir.path().join("docker-compose.yml"),
    )
    .expect("copy the compose file");
    let mut cmd = Command::new(compose);
    cmd.current_dir(dir.path()).args(["config", "-q"]);
    for name in references(&read("docker-compose.yml")) {
        cmd.env_remove(name);
    }
    let out = cmd.output().expect("run docker-compose");
    assert!(
        out.status.success(),
        "docker-compose config -q without .env: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `["sh", "-c", SCRIPT]` of a service's `entrypoint:` or `command:` line, as the container
/// runs it (Compose turns `$$` into `$`).
fn guard_script(compose: &str, key: &str, variable: &str) -> String {
    compose
        .lines()
        .filter_map(|line| line.trim().strip_prefix(&format!("{key}:")))
        .filter_map(|list| serde_json::from_str::<Vec<String>>(list.trim()).ok())
        .find(|argv| argv.len() == 3 && argv[0] == "sh" && argv[2].contains(variable))
        .unwrap_or_else(|| panic!("a {key}: [\"sh\", \"-c\", ...] that checks {variable}"))[2]
        .replace("$$", "$")
}

#[test]
fn the_database_and_redis_refuse_to_start_without_their_passwords() {
    let compose = read("docker-compose.yml");
    for (key, variable, named) in [
        ("entrypoint", "POSTGRES_PASSWORD", "POSTGRES_PASSWORD"),
        ("command", "REDISCLI_AUTH", "REDIS_PASSWORD"),
    ] {
        let script = guard_script(&compose, key, variable);
        // Without the password (as Compose passes an unset one: empty), the container stops
        // before the server starts, and says what to set.
        let out = Command::new("sh")
            .args(["-c", &script])
            .env(variable, "")
            .output()
            .expect("run sh");
        assert!(!out.status.success(), "{script} started without {variable}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(named) && stderr.contains(".env"),
            "the refusal names {named}: {stderr}"
        );
    }
}

#[test]
fn the_compose_file_holds_no_secret() {
    let compose = read("docker-compose.yml");
    for (number, line) in compose.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        for secret in SECRETS {
            if let Some(value) = line
                .strip_prefix(&format!("{secret}:"))
                .or_else(|| line.strip_prefix(&format!("- {secret}=")))
            {
                assert!(
                    value.trim().starts_with("${"),
                    "docker-compose.yml line {}: {secret} must come from .env as ${{...}}: {line}",
                    number + 1
                );
            }
        }
        // A password inside a URL (scheme://user:PASSWORD@host) is a reference too.
        if let Some((_, rest)) = line.split_once("://") {
            let authority = rest.split('/').next().unwrap_or_default();
            if let Some((userinfo, _)) = authority.rsplit_once('@') {
                if let Some((_, password)) = userinfo.split_once(':') {
                    assert!(
                        password.starts_with("${"),
                        "docker-compose.yml line {}: a URL's password must be a ${{...}} \
                         reference: {line}",
                        number + 1
                    );
                }
            }
        }
    }
    // Every secret is present as a reference, so the check above did look at something.
    for secret in ["POSTGRES_PASSWORD", "ADMIN_PASSWORD", "COOKIE_KEY"] {
        assert!(
            compose.contains(&format!("{secret}: ${{{secret}:-}}")),
            "{secret} comes from .env"
        );
    }
    for ignore in [".gitignore", ".dockerignore"] {
        assert!(
            read(ignore).lines().any(|l| l == "/.env" || l == ".env"),
            "{ignore} lists .env"
        );
    }
    for line in read(".env.example").lines() {
        if let Some((name, value)) = line.split_once('=') {
            if SECRETS.contains(&name) {
                assert!(value.is_empty(), ".env.example holds a value for {name}");
            }
        }
    }
}

#[test]
fn the_balancer_config_is_valid_for_haproxy() {
    let haproxy = tool("/usr/sbin/haproxy", "haproxy");
    let out = Command::new(haproxy)
        .args(["-c", "-f"])
        .arg(Path::new(ROOT).join("deploy/haproxy.cfg"))
        .env("BIND_ADDR", "127.0.0.1:18000")
        .env("APP1_ADDR", "127.0.0.1:18001")
        .env("APP2_ADDR", "127.0.0.1:18002")
        .output()
        .expect("run haproxy -c");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "haproxy -c: {text}");
    assert!(!text.contains("WARNING"), "haproxy -c warns: {text}");
}

/// An HAProxy duration (`500ms`, `30s`, `1m`, `1h`; bare numbers are milliseconds) in seconds.
fn haproxy_seconds(value: &str) -> f64 {
    let value = value.trim_matches('"');
    let split = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("a duration: {value}"));
    number
        * match unit {
            "" | "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => panic!("unknown unit {other} in {value}"),
        }
}

#[test]
fn the_replicas_keep_alive_outlasts_the_balancers_idle_timeouts() {
    let config = read("deploy/haproxy.cfg");
    let timeout = |name: &str| -> f64 {
        let value = config
            .lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(&format!("timeout {name} ")))
            .unwrap_or_else(|| panic!("deploy/haproxy.cfg sets timeout {name}"))
            .trim();
        // "${NAME-default}": the default is what the stack runs with.
        let value = match value.split_once('-') {
            Some((_, default)) if value.starts_with("\"${") => default.trim_end_matches("}\""),
            _ => value,
        };
        haproxy_seconds(value)
    };
    let balancer_idle = timeout("server").max(timeout("http-keep-alive"));

    let default_toml = read("config/default.toml");
    let server_default: f64 = default_toml
        .lines()
        .find_map(|line| line.strip_prefix("keep_alive_secs = "))
        .and_then(|rest| rest.split('#').next())
        .and_then(|value| value.trim().parse().ok())
        .expect("config/default.toml sets keep_alive_secs");
    let compose_default: f64 = read("docker-compose.yml")
        .split("${KEEP_ALIVE_SECS:-")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .and_then(|value| value.parse().ok())
        .expect("docker-compose.yml sets KEEP_ALIVE_SECS with a default");
    let example: f64 = read(".env.example")
        .lines()
        .find_map(|line| line.strip_prefix("KEEP_ALIVE_SECS="))
        .and_then(|value| value.trim().parse().ok())
        .expect(".env.example sets KEEP_ALIVE_SECS");
    for (what, keep_alive) in [
        ("config/default.toml", server_default),
        ("docker-compose.yml", compose_default),
        (".env.example", example),
    ] {
        assert!(
            keep_alive > balancer_idle,
            "{what}: the replicas' keep-alive ({keep_alive} s) must outlast HAProxy's idle \
             timeouts toward them ({balancer_idle} s)"
        );
    }
}
