//! The bench only ever sends traffic to this machine.

use anyhow::{bail, Context, Result};

/// Fails unless `url` points at a loopback address (127.0.0.0/8, ::1 or localhost).
pub fn ensure_loopback(url: &str) -> Result<()> {
    let parsed = url::Url::parse(url).with_context(|| format!("not a URL: {url}"))?;
    let loopback = match parsed.host() {
        // URLs of other schemes (redis://, postgres://) keep an IP address as a domain.
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if !loopback {
        bail!("refusing to load {url}: poker-bench only targets loopback addresses (127.0.0.0/8, ::1, localhost)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_pass() {
        assert!(ensure_loopback("http://127.0.0.1:8000").is_ok());
        assert!(ensure_loopback("http://127.5.6.7:1").is_ok());
        assert!(ensure_loopback("http://localhost:8000/").is_ok());
        assert!(ensure_loopback("http://[::1]:8000").is_ok());
        assert!(ensure_loopback("http://10.0.0.1:8000").is_err());
        assert!(ensure_loopback("http://192.168.1.2").is_err());
        assert!(ensure_loopback("http://example.com").is_err());
        assert!(ensure_loopback("nonsense").is_err());
        // The cluster scenario's Redis and PostgreSQL URLs.
        assert!(ensure_loopback("redis://127.0.0.1:6379/").is_ok());
        assert!(ensure_loopback("postgres://postgres@127.0.0.1:5432/x").is_ok());
        assert!(ensure_loopback("postgres://u:p@localhost/x").is_ok());
        assert!(ensure_loopback("redis://10.1.2.3:6379/").is_err());
        assert!(ensure_loopback("postgres://postgres@db.example.com/x").is_err());
    }
}
