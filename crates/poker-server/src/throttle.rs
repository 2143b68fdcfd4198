//! Login throttling: counts failed logins per username and per client address, and refuses
//! further attempts for a growing while once either passes its threshold.
//!
//! Hand-written rather than taken from a crate: rate limiters such as `governor` meter every
//! request (a GCRA over all attempts), but here only *failures* may count, a success must never
//! be slowed (a benchmark logs in 1,000 users from one address), and the refusal must name how
//! long to wait. What is needed is a failure counter with backoff and bounded memory, which is
//! a small map.
//!
//! Every method takes `now`, so the rule is tested with a made-up clock.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The numbers of the rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Failures for one username before attempts must wait.
    pub user_failures: u32,
    /// Failures from one address before attempts must wait; higher, since offices and NATs
    /// put many people behind one address.
    pub address_failures: u32,
    /// A key is forgiven after this long without a failure.
    pub forget_after: Duration,
    /// The first wait once a threshold is reached; it doubles with each further failure.
    pub first_wait: Duration,
    /// The longest wait.
    pub max_wait: Duration,
    /// Keys remembered per kind (usernames, addresses); the least recently failed go first.
    pub max_keys: usize,
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            user_failures: 5,
            address_failures: 30,
            forget_after: Duration::from_secs(15 * 60),
            first_wait: Duration::from_secs(30),
            max_wait: Duration::from_secs(15 * 60),
            max_keys: 100_000,
        }
    }
}

/// An attempt that must wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Whole seconds until the attempt may be made (at least 1), for `Retry-After`.
    pub retry_after_secs: u64,
    /// What is throttled, for the message.
    pub what: &'static str,
}

/// The SHA-256 of a username: a key of fixed size, however long the name an attacker sends.
type UserKey = [u8; 32];

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    failures: u32,
    last_failure: Option<Instant>,
    blocked_until: Option<Instant>,
    /// Attempts admitted and not yet decided (their argon2 may still be running).
    in_flight: u32,
}

impl Entry {
    /// Quiet for [`Rule::forget_after`] since the last failure, or since the wait it caused
    /// ended (so that a long wait does not forgive the failures that led to it).
    fn quiet(&self, rule: &Rule, now: Instant) -> bool {
        self.last_failure
            .max(self.blocked_until)
            .is_none_or(|t| now.saturating_duration_since(t) >= rule.forget_after)
    }

    fn forgotten(&self, rule: &Rule, now: Instant) -> bool {
        self.in_flight == 0 && self.quiet(rule, now)
    }
}

/// One map of keys to their failures.
struct Counter<K> {
    entries: HashMap<K, Entry>,
    threshold: u32,
}

impl<K: Hash + Eq + Copy> Counter<K> {
    fn new(threshold: u32) -> Self {
        Counter {
            entries: HashMap::new(),
            threshold,
        }
    }

    /// How long `key` must still wait; `count_in_flight` also counts undecided attempts once
    /// the key has failed at all, so a burst of parallel guesses cannot slip past the rule.
    fn wait(
        &mut self,
        key: &K,
        rule: &Rule,
        now: Instant,
        count_in_flight: bool,
    ) -> Option<Duration> {
        let entry = self.entries.get_mut(key)?;
        if entry.forgotten(rule, now) {
            self.entries.remove(key);
            return None;
        }
        if let Some(until) = entry.blocked_until.filter(|until| *until > now) {
            return Some(until - now);
        }
        // Failures still allowed before the wait; past the threshold, one guess per wait.
        let budget = self.threshold.saturating_sub(entry.failures).max(1);
        if count_in_flight && entry.failures > 0 && entry.in_flight >= budget {
            // Decided within an argon2 or two: ask for a retry shortly.
            return Some(Duration::from_secs(1));
        }
        None
    }

    fn entry(&mut self, key: K, rule: &Rule, now: Instant) -> &mut Entry {
        if !self.entries.contains_key(&key) && self.entries.len() >= rule.max_keys {
            self.make_room(rule, now);
        }
        self.entries.entry(key).or_default()
    }

    /// Drops forgotten keys; when that is not enough (a flood of distinct names), drops the
    /// half that failed longest ago. Halving keeps the cost per new key logarithmic.
    fn make_room(&mut self, rule: &Rule, now: Instant) {
        self.entries.retain(|_, e| !e.forgotten(rule, now));
        if self.entries.len() < rule.max_keys {
            return;
        }
        let mut times: Vec<Option<Instant>> =
            self.entries.values().map(|e| e.last_failure).collect();
        times.sort_unstable();
        let cut = times[times.len() / 2];
        self.entries
            .retain(|_, e| e.in_flight > 0 || e.last_failure > cut);
    }

    fn start(&mut self, key: K, rule: &Rule, now: Instant) {
        self.entry(key, rule, now).in_flight += 1;
    }

    fn finish(&mut self, key: &K, failed: bool, rule: &Rule, now: Instant) {
        let threshold = self.threshold;
        let Some(entry) = self.entries.get_mut(key) else {
            if failed {
                // Evicted meanwhile: start counting afresh.
                self.entry(*key, rule, now).failures = 1;
            }
            return;
        };
        entry.in_flight = entry.in_flight.saturating_sub(1);
        if !failed {
            return;
        }
        if entry.last_failure.is_some() && entry.quiet(rule, now) {
            entry.failures = 0;
            entry.blocked_until = None;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = Some(now);
        if entry.failures >= threshold {
            let doublings = (entry.failures - threshold).min(20);
            let wait = rule
                .first_wait
                .saturating_mul(1 << doublings)
                .min(rule.max_wait);
            entry.blocked_until = Some(now + wait);
        }
    }

    fn clear(&mut self, key: &K) {
        if let Some(entry) = self.entries.get_mut(key) {
            if entry.in_flight == 0 {
                self.entries.remove(key);
            } else {
                *entry = Entry {
                    in_flight: entry.in_flight,
                    ..Entry::default()
                };
            }
        }
    }
}

struct State {
    users: Counter<UserKey>,
    addresses: Counter<IpAddr>,
}

/// The failure counters of one process.
pub struct LoginThrottle {
    rule: Rule,
    state: Mutex<State>,
}

/// An admitted login attempt; report how it went with [`failed`](Self::failed) or
/// [`succeeded`](Self::succeeded). Dropped without either (the database failed, the hashing
/// queue was full, the client went away), it counts as nothing.
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    user: UserKey,
    address: Option<IpAddr>,
    decided: bool,
}

/// Addresses are counted per host, except IPv6 by /64: one subscriber usually holds a whole
/// /64, so counting single IPv6 addresses would give an attacker 2^64 fresh ones.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// Names are compared as the login looks them up (trimmed).
fn user_key(username: &str) -> UserKey {
    Sha256::digest(username.trim().as_bytes()).into()
}

impl LoginThrottle {
    pub fn new(rule: Rule) -> Self {
        let state = State {
            users: Counter::new(rule.user_failures),
            addresses: Counter::new(rule.address_failures),
        };
        LoginThrottle {
            rule,
            state: Mutex::new(state),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The counters stay consistent even if a holder panicked: every update is one field.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits an attempt to log in as `username` from `address` (`None`: unknown, counted by
    /// name only), or says how long it must wait. Cheap: call it before any argon2 work.
    pub fn admit(
        &self,
        username: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt<'_>, Refused> {
        let user = user_key(username);
        let address = address.map(address_key);
        let rule = &self.rule;
        let mut state = self.state();
        if let Some(wait) = state.users.wait(&user, rule, now, true) {
            return Err(refused(wait, "this username"));
        }
        // Not counting in-flight attempts per address: many people log in at once from one
        // office (or a benchmark from one host), and only failures may slow them.
        if let Some(wait) = address.and_then(|a| state.addresses.wait(&a, rule, now, false)) {
            return Err(refused(wait, "this address"));
        }
        state.users.start(user, rule, now);
        if let Some(address) = address {
            state.addresses.start(address, rule, now);
        }
        Ok(Attempt {
            throttle: self,
            user,
            address,
            decided: false,
        })
    }

    /// How many usernames and addresses are remembered (for tests of the bound).
    pub fn remembered(&self) -> (usize, usize) {
        let state = self.state();
        (state.users.entries.len(), state.addresses.entries.len())
    }
}

fn refused(wait: Duration, what: &'static str) -> Refused {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Refused {
        retry_after_secs: secs.max(1),
        what,
    }
}

impl Attempt<'_> {
    /// The password was wrong (or the user unknown).
    pub fn failed(mut self, now: Instant) {
        self.decided = true;
        let rule = &self.throttle.rule;
        let mut state = self.throttle.state();
        state.users.finish(&self.user, true, rule, now);
        if let Some(address) = self.address {
            state.addresses.finish(&address, true, rule, now);
        }
    }

    /// The password was right: the username's failures are forgiven. The address's are not, or
    /// one valid account would let an attacker reset its address's count at will.
    pub fn succeeded(mut self, now: Instant) {
        self.decided = true;
        let rule = &self.throttle.rule;
        let mut state = self.throttle.state();
        state.users.finish(&self.user, false, rule, now);
        state.users.clear(&self.user);
        if let Some(address) = self.address {
            state.addresses.finish(&address, false, rule, now);
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.decided {
            return;
        }
        let rule = &self.throttle.rule;
        let now = Instant::now();
        let mut state = self.throttle.state();
        state.users.finish(&self.user, false, rule, now);
        if let Some(address) = self.address {
            state.addresses.finish(&address, false, rule, now);
        }
    }
}

/// The address a login is counted against: the peer, unless the peer is a trusted proxy; then
/// the last `X-Forwarded-For` hop that is not one (each proxy appends the address it saw, so
/// hops left of the first untrusted one are whatever the client chose to send).
pub fn client_address<'a>(
    peer: Option<IpAddr>,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = forwarded_for
        .flat_map(|header| header.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(address) = parse_hop(hop) else {
            // Not an address: trust the hop to its right, the last one a proxy vouched for.
            break;
        };
        client = address;
        if !trusted.contains(&address) {
            break;
        }
    }
    Some(client)
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn fail(t: &LoginThrottle, user: &str, addr: &str, now: Instant) {
        t.admit(user, ip(addr), now).unwrap().failed(now);
    }

    #[test]
    fn five_failures_for_a_username_make_the_next_attempt_wait_30_seconds() {
        let t = LoginThrottle::new(Rule::default());
        let start = Instant::now();
        for i in 0..5 {
            fail(&t, "alice", "10.0.0.1", start + Duration::from_secs(i));
        }
        let at = start + Duration::from_secs(4);
        let refused = t.admit("alice", ip("10.0.0.9"), at).err().unwrap();
        assert_eq!(refused.retry_after_secs, 30);
        // The lock is the username's, whatever the address, even with the right password.
        assert!(t
            .admit("alice", ip("10.0.0.2"), at + Duration::from_secs(29))
            .is_err());
        assert!(t.admit("alice", None, at + Duration::from_secs(30)).is_ok());
    }

    #[test]
    fn other_usernames_and_addresses_are_not_slowed() {
        let t = LoginThrottle::new(Rule::default());
        let now = Instant::now();
        for _ in 0..10 {
            let _ = t.admit("alice", ip("10.0.0.1"), now).map(|a| a.failed(now));
        }
        assert!(t.admit("alice", ip("10.0.0.1"), now).is_err());
        for _ in 0..100 {
            t.admit("bob", ip("10.0.0.2"), now).unwrap().succeeded(now);
        }
    }

    #[test]
    fn each_failure_past_the_threshold_doubles_the_wait_up_to_the_cap() {
        let t = LoginThrottle::new(Rule::default());
        let mut now = Instant::now();
        for _ in 0..5 {
            fail(&t, "alice", "10.0.0.1", now);
        }
        let mut waits = Vec::new();
        for _ in 0..8 {
            let wait = t.admit("alice", None, now).err().unwrap().retry_after_secs;
            waits.push(wait);
            now += Duration::from_secs(wait);
            t.admit("alice", None, now).unwrap().failed(now);
        }
        assert_eq!(waits, [30, 60, 120, 240, 480, 900, 900, 900]);
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_quarter_hour() {
        let t = LoginThrottle::new(Rule::default());
        let start = Instant::now();
        for _ in 0..4 {
            fail(&t, "alice", "10.0.0.1", start);
        }
        let later = start + Duration::from_secs(15 * 60);
        fail(&t, "alice", "10.0.0.1", later);
        assert!(
            t.admit("alice", None, later).is_ok(),
            "the old four are forgotten"
        );
        assert_eq!(t.remembered().0, 1);
        let much_later = later + Duration::from_secs(16 * 60);
        assert!(t.admit("nobody", None, much_later).is_ok());
    }

    #[test]
    fn a_success_forgives_the_username_but_not_the_address() {
        let t = LoginThrottle::new(Rule::default());
        let now = Instant::now();
        for _ in 0..4 {
            fail(&t, "alice", "10.0.0.1", now);
        }
        t.admit("alice", ip("10.0.0.1"), now)
            .unwrap()
            .succeeded(now);
        for _ in 0..4 {
            fail(&t, "alice", "10.0.0.1", now);
        }
        assert!(
            t.admit("alice", None, now).is_ok(),
            "the count started again"
        );
        for i in 0..(30 - 8) {
            fail(&t, &format!("user{i}"), "10.0.0.1", now);
        }
        let refused = t.admit("carol", ip("10.0.0.1"), now).err().unwrap();
        assert_eq!(refused.what, "this address");
        assert!(t.admit("carol", ip("10.0.0.2"), now).is_ok());
    }

    #[test]
    fn successes_never_count_against_an_address() {
        let t = LoginThrottle::new(Rule::default());
        let now = Instant::now();
        let attempts: Vec<_> = (0..1000)
            .map(|i| t.admit(&format!("user{i}"), ip("127.0.0.1"), now).unwrap())
            .collect();
        for a in attempts {
            a.succeeded(now);
        }
        assert!(t.admit("user0", ip("127.0.0.1"), now).is_ok());
    }

    #[test]
    fn parallel_guesses_for_a_failing_username_stop_at_the_threshold() {
        let t = LoginThrottle::new(Rule::default());
        let now = Instant::now();
        fail(&t, "alice", "10.0.0.1", now);
        let admitted: Vec<_> = (0..50)
            .filter_map(|_| t.admit("alice", ip("10.0.0.1"), now).ok())
            .collect();
        assert_eq!(admitted.len(), 4);
        drop(admitted);
        // Dropped undecided (say the hashing queue was full): they count as nothing.
        assert!(t.admit("alice", None, now).is_ok());
        // A username that never failed is not limited by parallel attempts.
        let parallel: Vec<_> = (0..50)
            .map(|_| t.admit("bob", ip("10.0.0.2"), now).unwrap())
            .collect();
        assert_eq!(parallel.len(), 50);
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_names() {
        let rule = Rule {
            max_keys: 1000,
            ..Rule::default()
        };
        let t = LoginThrottle::new(rule);
        let start = Instant::now();
        for i in 0..10_000u64 {
            let now = start + Duration::from_millis(i);
            fail(
                &t,
                &format!("name{i}"),
                &format!("10.1.{}.{}", i / 256, i % 256),
                now,
            );
        }
        let (users, addresses) = t.remembered();
        assert!(users <= 1000 && addresses <= 1000, "{users} {addresses}");
        // The most recent failures are the ones kept.
        let now = start + Duration::from_millis(10_000);
        for _ in 0..4 {
            fail(&t, "name9999", "10.0.0.1", now);
        }
        assert!(t.admit("name9999", None, now).is_err());
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            address_key("::ffff:10.0.0.1".parse().unwrap()),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn usernames_are_trimmed_and_hashed() {
        let t = LoginThrottle::new(Rule::default());
        let now = Instant::now();
        for _ in 0..5 {
            fail(&t, " alice ", "10.0.0.1", now);
        }
        assert!(t.admit("alice", None, now).is_err());
        let long = "x".repeat(200_000);
        fail(&t, &long, "10.0.0.1", now);
        assert!(t.admit(&long, None, now).is_ok());
    }

    #[test]
    fn the_peer_counts_unless_it_is_a_trusted_proxy() {
        let trusted: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        let xff = ["6.6.6.6, 1.2.3.4", "10.0.0.2"];
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_address(ip("9.9.9.9"), xff.into_iter(), &trusted),
            ip("9.9.9.9")
        );
        // Behind trusted proxies: the last hop they did not add themselves.
        assert_eq!(
            client_address(ip("10.0.0.1"), xff.into_iter(), &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), ["[2001:db8::7]:443"].into_iter(), &trusted),
            ip("2001:db8::7")
        );
        // Nothing but proxies, or garbage: the last address a proxy vouched for.
        assert_eq!(
            client_address(ip("10.0.0.1"), ["10.0.0.2"].into_iter(), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_address(
                ip("10.0.0.1"),
                ["1.2.3.4, nonsense, 10.0.0.2"].into_iter(),
                &trusted
            ),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), [].into_iter(), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(client_address(None, xff.into_iter(), &trusted), None);
    }
}
