//! Passwords: argon2id (the crate's defaults, OWASP's 19 MiB, two passes, one lane) on two
//! threads of their own.
//!
//! **Memory.** Each hash needs a 19 MiB block of memory. Allocated and freed per hash, glibc
//! kept those blocks in the hashing threads' arenas (its mmap threshold rises to their size
//! after the first free), so a server that had served a few hundred logins sat at ~250 MiB
//! before its first socket. Here each hashing thread fills one block of its own, reused by
//! every hash it runs back to back, and hands it back to the operating system as soon as no
//! hash is waiting (the block is its own mapping: see [`map_large_allocations`]). A login
//! flood costs two blocks at most; an idle server holds none.
//!
//! **Passwords from the Django original.** Users brought over by `import-django` keep the hash
//! Django stored, `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` (PBKDF2-HMAC-SHA256). Such a
//! hash is checked here too, on the same threads, and the login that succeeds with it replaces
//! it by an argon2 hash ([`needs_rehash`]). Django's unusable passwords (`!…`) match nothing.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, OnceLock};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;

use crate::auth::random_bytes;
use crate::error::ApiError;

/// Threads that do all password hashing.
const HASHING_THREADS: usize = 2;
/// Hash jobs that may wait for a hashing thread. Past this, a request is refused at once (503)
/// rather than queued: 64 argon2 runs on two threads are about a second of waiting, while an
/// unbounded queue under a login flood would make every login wait minutes.
const MAX_WAITING_HASHES: usize = 64;
/// A stored hash that asks for more memory than this (64 MiB) is refused rather than run.
const MAX_BLOCKS: usize = 64 * 1024;
/// The prefix of Django's default password hasher (`PBKDF2PasswordHasher`).
const DJANGO_PBKDF2_SHA256: &str = "pbkdf2_sha256$";
/// A stored Django hash that asks for more PBKDF2 rounds than this is refused rather than run:
/// Django 3.2 stores 260,000 and its newest versions about a million; ten million rounds are a
/// few seconds of a hashing thread.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

type HashJob = Box<dyn FnOnce() + Send>;

/// Jobs handed to the hashing threads and not yet finished.
static HASHES_PENDING: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The hashing thread's argon2 memory, kept while hashes follow each other.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn hashing_busy() -> ApiError {
    ApiError::Busy("the server is busy checking passwords; try again in a second".into())
}

/// Gives the hashing thread's block back to the operating system.
fn release_memory() {
    BLOCKS.with(|blocks| drop(std::mem::take(&mut *blocks.borrow_mut())));
}

/// Makes glibc serve every allocation of 4 MiB or more (argon2's blocks) with its own mapping,
/// unmapped when freed. By default glibc raises that threshold to the size of the last such
/// block freed, after which the next block (a few bytes larger, for its alignment) comes from a
/// thread's arena and stays there once freed.
fn map_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning; a fixed threshold also stops its
    // dynamic adjustment.
    unsafe {
        if libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20) != 1 {
            log::warn!("could not set the allocator's mmap threshold");
        }
    }
}

/// A hashing thread: runs jobs while there are any, and releases its memory whenever the queue
/// is empty before waiting for the next one. (The queue has a receiver per thread: behind a
/// shared lock instead, a thread that finished its job would wait for the lock held by the
/// other one's blocking receive, keeping its block until the next job.)
fn hashing_thread(queue: Receiver<HashJob>) {
    loop {
        let job = match queue.try_recv() {
            Ok(job) => job,
            Err(TryRecvError::Disconnected) => return,
            Err(TryRecvError::Empty) => {
                release_memory();
                match queue.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            }
        };
        job();
    }
}

/// Runs `f` on one of the hashing threads and waits for it: a flood of logins cannot take
/// more than two cores or two blocks of memory. Fails with [`ApiError::Busy`] when
/// [`MAX_WAITING_HASHES`] jobs are already waiting.
fn on_hashing_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    static POOL: OnceLock<Sender<HashJob>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        map_large_allocations();
        let (jobs, queue) = crossbeam_channel::unbounded::<HashJob>();
        for i in 0..HASHING_THREADS {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("poker-hash-{i}"))
                .spawn(move || hashing_thread(queue));
            if let Err(e) = spawned {
                log::error!("cannot start a hashing thread: {e}");
            }
        }
        jobs
    });
    // Running jobs count too; the bound is on waiting ones, so allow the threads' share.
    let limit = MAX_WAITING_HASHES + HASHING_THREADS;
    if HASHES_PENDING
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < limit).then_some(n + 1)
        })
        .is_err()
    {
        return Err(hashing_busy());
    }
    let (reply, answer) = mpsc::channel();
    let job: HashJob = Box::new(move || {
        let value = f();
        HASHES_PENDING.fetch_sub(1, Ordering::AcqRel);
        let _ = reply.send(value);
    });
    if pool.send(job).is_err() {
        HASHES_PENDING.fetch_sub(1, Ordering::AcqRel);
        return Err(ApiError::Internal(
            "the password hashing threads are gone".into(),
        ));
    }
    answer
        .recv()
        .map_err(|_| ApiError::Internal("a password hashing job was lost".into()))
}

/// Argon2 of `password` with `salt` into `out`, in this thread's reusable memory.
fn argon2_into(
    hasher: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let count = params.block_count();
    if count > MAX_BLOCKS {
        return Err(argon2::Error::MemoryTooMuch);
    }
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        if blocks.len() < count {
            // Every block is written before it is read, so its contents do not matter.
            *blocks = vec![Block::default(); count];
        }
        hasher.hash_password_into_with_memory(password, salt, out, &mut blocks[..count])
    })
}

/// Hashes on the current thread: the PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`), as
/// `argon2::PasswordHasher` would write it.
fn hash_now(password: &[u8]) -> Result<String, ApiError> {
    let failed = |e: &dyn std::fmt::Display| ApiError::Internal(format!("hashing: {e}"));
    let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(|e| failed(&e))?;
    let params = Params::default();
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| failed(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(&hasher, &params, password, salt_raw, &mut out).map_err(|e| failed(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches `stored`: an argon2 PHC string, or a hash from the Django
/// original. Django marks a user without a usable password with a hash starting with `!`.
fn verify_now(stored: &str, password: &[u8]) -> bool {
    if stored.starts_with('!') {
        return false;
    }
    if stored.starts_with(DJANGO_PBKDF2_SHA256) {
        return verify_django_pbkdf2(stored, password);
    }
    verify_argon2(stored, password)
}

/// Whether `password` matches a Django `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`, as
/// Django's `PBKDF2PasswordHasher` computes it: PBKDF2-HMAC-SHA256 of the UTF-8 password with
/// the salt's UTF-8 bytes, as many bytes as the stored hash has (32 for Django's). A malformed
/// hash, or one with more than [`MAX_PBKDF2_ITERATIONS`] rounds, matches nothing.
fn verify_django_pbkdf2(stored: &str, password: &[u8]) -> bool {
    let Some(rest) = stored.strip_prefix(DJANGO_PBKDF2_SHA256) else {
        return false;
    };
    let mut parts = rest.split('$');
    let (Some(iterations), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some(iterations) = iterations
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= MAX_PBKDF2_ITERATIONS)
        .and_then(std::num::NonZeroU32::new)
    else {
        return false;
    };
    if salt.is_empty() {
        return false;
    }
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(hash) else {
        return false;
    };
    // Django's is 32 bytes (SHA-256's size); shorter ones would be too easy to collide with.
    if !(16..=64).contains(&expected.len()) {
        return false;
    }
    // Derived to the stored length and compared in constant time.
    ring::pbkdf2::verify(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt.as_bytes(),
        password,
        &expected,
    )
    .is_ok()
}

/// Whether a stored hash that just matched should be replaced by a fresh argon2 hash: it is one
/// brought over from the Django original.
pub fn needs_rehash(stored: &str) -> bool {
    stored.starts_with(DJANGO_PBKDF2_SHA256)
}

/// Whether `password` matches the argon2 PHC string `stored`, with the parameters it names.
fn verify_argon2(stored: &str, password: &[u8]) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let hasher = Argon2::new(algorithm, version, params.clone());
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    if argon2_into(&hasher, &params, password, salt_raw, &mut out).is_err() {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let password = password.to_string();
    on_hashing_thread(move || hash_now(password.as_bytes()))?
}

/// Checks a password against a stored hash (argon2, or Django's PBKDF2); `None` (no such user) checks it against a
/// fixed hash of a random password instead, so an unknown username costs the same argon2 run
/// as a known one and the answer's timing does not tell which usernames exist.
pub fn verify_password(hash: Option<&str>, password: &str) -> Result<bool, ApiError> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let (hash, password) = (hash.map(str::to_string), password.to_string());
    on_hashing_thread(move || {
        let known = hash.is_some();
        let hash = match hash {
            Some(hash) => hash,
            None => match DUMMY.get_or_init(|| hash_now(&random_bytes::<32>()).ok()) {
                Some(dummy) => dummy.clone(),
                None => return false,
            },
        };
        let matches = verify_now(&hash, password.as_bytes());
        known && matches
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};
    use std::sync::{Arc, Mutex};

    /// The hashing threads are one per process: the test that fills their queue must not run
    /// beside one that hashes.
    static HASHING: Mutex<()> = Mutex::new(());

    #[test]
    fn passwords_verify_only_themselves() {
        let _alone = HASHING.lock().unwrap_or_else(|e| e.into_inner());
        let hash = hash_password("correct horse").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(Some(&hash), "correct horse").unwrap());
        assert!(!verify_password(Some(&hash), "wrong").unwrap());
        assert!(!verify_password(Some("not a hash"), "correct horse").unwrap());
        assert!(!verify_password(None, "correct horse").unwrap());
    }

    /// The hand-assembled hashing agrees with the argon2 crate's own, both ways, and with
    /// hashes of other parameters (as stored by an earlier version or another tool).
    #[test]
    fn hashes_match_the_argon2_crates_own() {
        let _alone = HASHING.lock().unwrap_or_else(|e| e.into_inner());
        let ours = hash_password("tr0ub4dor").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"tr0ub4dor", &parsed)
            .is_ok());
        let salt = SaltString::encode_b64(b"sixteen byte sal").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"tr0ub4dor", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password(Some(&theirs), "tr0ub4dor").unwrap());
        let small = Params::new(4096, 3, 1, Some(24)).unwrap();
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, small)
            .hash_password(b"tr0ub4dor", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password(Some(&other), "tr0ub4dor").unwrap());
        assert!(!verify_password(Some(&other), "tr0ub4dor!").unwrap());
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default())
            .hash_password(b"tr0ub4dor", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password(Some(&argon2i), "tr0ub4dor").unwrap());
    }

    /// Made by the Django original (3.2's `make_password('secret')`, 260,000 rounds) and by
    /// Python's hashlib for a short and a non-ASCII case.
    const DJANGO_SECRET: &str =
        "pbkdf2_sha256$260000$m0exSZhW9iIulUapLudhoz$d9kqw+Bc2V5jN2Bd1viwD3AIRtNJlCMzYJdNHxvmmhQ=";
    const DJANGO_UNICODE: &str =
        "pbkdf2_sha256$260000$msrnwXvI0cVF1cYqMkZwSC$tE214viMfR18VycLtNYvvkua1wWPKyvWXrLaemPet+E=";
    const DJANGO_1000_ROUNDS: &str =
        "pbkdf2_sha256$1000$smallsalt$fZbD1vUMu86HbNHpSZfGs/5cb8mXpWuymbFDWvLEYNY=";

    #[test]
    fn django_hashes_verify_only_their_password() {
        let _alone = HASHING.lock().unwrap_or_else(|e| e.into_inner());
        assert!(verify_password(Some(DJANGO_SECRET), "secret").unwrap());
        assert!(!verify_password(Some(DJANGO_SECRET), "Secret").unwrap());
        assert!(!verify_password(Some(DJANGO_SECRET), "").unwrap());
        assert!(verify_password(Some(DJANGO_UNICODE), "pässwörd €").unwrap());
        assert!(!verify_password(Some(DJANGO_UNICODE), "passwort").unwrap());
        assert!(verify_password(Some(DJANGO_1000_ROUNDS), "secret").unwrap());
        assert!(!verify_password(Some(DJANGO_1000_ROUNDS), "secret ").unwrap());
        assert!(needs_rehash(DJANGO_SECRET));
        assert!(!needs_rehash(&hash_password("secret").unwrap()));
    }

    #[test]
    fn malformed_and_unusable_django_hashes_match_nothing() {
        let _alone = HASHING.lock().unwrap_or_else(|e| e.into_inner());
        let good = DJANGO_1000_ROUNDS;
        let hash = good.rsplit('$').next().unwrap();
        for stored in [
            // Django's unusable password (`set_unusable_password`), and one hiding a real hash.
            "!Xq3yQ0lG8oO9vTkzYd2bN1mR7sWcE5uJ4hA6fLpK",
            &format!("!{good}"),
            "pbkdf2_sha256$",
            "pbkdf2_sha256$1000$smallsalt",
            &format!("pbkdf2_sha256$1000$smallsalt${hash}$extra"),
            &format!("pbkdf2_sha256$$smallsalt${hash}"),
            &format!("pbkdf2_sha256$0$smallsalt${hash}"),
            &format!("pbkdf2_sha256$-1000$smallsalt${hash}"),
            &format!("pbkdf2_sha256$1e3$smallsalt${hash}"),
            &format!("pbkdf2_sha256$1000$${hash}"),
            "pbkdf2_sha256$1000$smallsalt$not base64!",
            "pbkdf2_sha256$1000$smallsalt$c2hvcnQ=",
            "pbkdf2_sha256$1000$smallsalt$",
            // Other salts or rounds than the hash was made with.
            &format!("pbkdf2_sha256$1001$smallsalt${hash}"),
            &format!("pbkdf2_sha256$1000$smallsalT${hash}"),
            // Other Django hashers are not supported.
            &format!("pbkdf2_sha1$1000$smallsalt${hash}"),
            "md5$salt$5ebe2294ecd0e0f08eab7690d2a6ee69",
        ] {
            assert!(
                !verify_password(Some(stored), "secret").unwrap(),
                "{stored:?} must not match"
            );
        }
    }

    /// A Django hash asking for more rounds than the bound is refused at once, not run.
    #[test]
    fn a_django_hash_with_too_many_rounds_is_refused() {
        let _alone = HASHING.lock().unwrap_or_else(|e| e.into_inner());
        let hash = DJANGO_1000_ROUNDS.rsplit('$').next().unwrap();
        let greedy = format!("pbkdf2_sha256$4000000000$smallsalt${hash}");
        let started = std::time::Instant::now();
        assert!(!verify_password(Some(&greedy), "secret").unwrap());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let bound = format!(
            "pbkdf2_sha256${}$smallsalt${hash}",
            MAX_PBKDF2_ITERATIONS + 1
        );
        assert!(!verify_password(Some(&bound), "secret").unwrap());
    }

    /// A stored hash asking for more memory than the bound is refused, not run.
    #[test]
    fn a_hash_asking_for_too_much_memory_is_refused() {
        let _alone = HASHING.lock().unwrap_or_else(|e| e.into_inner());
        let greedy = "$argon2id$v=19$m=1048576,t=2,p=1$c2l4dGVlbiBieXRlIHNhbA$\
                      AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(!verify_password(Some(greedy), "x").unwrap());
    }

    /// A hashing thread reuses its block for jobs that follow each other, and gives it back
    /// once its queue is empty.
    #[test]
    fn a_hashing_thread_keeps_its_block_only_while_busy() {
        let (jobs, queue) = crossbeam_channel::unbounded::<HashJob>();
        let (seen, held) = mpsc::channel::<usize>();
        let capacity = || BLOCKS.with(|b| b.borrow().capacity());
        let hash_then_report = |seen: mpsc::Sender<usize>| -> HashJob {
            Box::new(move || {
                hash_now(b"x").unwrap();
                let _ = seen.send(capacity());
            })
        };
        // Two jobs queued before the thread starts run back to back on one block.
        jobs.send(hash_then_report(seen.clone())).unwrap();
        let report = seen.clone();
        jobs.send(Box::new(move || {
            let _ = report.send(capacity());
        }))
        .unwrap();
        let thread = std::thread::spawn(move || hashing_thread(queue));
        let blocks = Params::default().block_count();
        assert!(
            held.recv().unwrap() >= blocks,
            "the first hash filled a block"
        );
        assert!(
            held.recv().unwrap() >= blocks,
            "kept while the next job was queued"
        );
        // Then the queue ran dry: the thread releases the block before it waits again.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let report = seen.clone();
            jobs.send(Box::new(move || {
                let _ = report.send(capacity());
            }))
            .unwrap();
            if held.recv().unwrap() == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the block was released"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        drop(jobs);
        thread.join().unwrap();
    }

    #[test]
    fn a_full_hashing_queue_refuses_at_once() {
        let _alone = HASHING.lock().unwrap_or_else(|e| e.into_inner());
        // Hold both threads and fill the queue with jobs that wait for a signal.
        let (go, wait) = mpsc::channel::<()>();
        let wait = Arc::new(Mutex::new(wait));
        let mut held = Vec::new();
        for _ in 0..(MAX_WAITING_HASHES + HASHING_THREADS) {
            let wait = wait.clone();
            held.push(std::thread::spawn(move || {
                on_hashing_thread(move || {
                    let _ = wait.lock().map(|w| w.recv());
                })
            }));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while HASHES_PENDING.load(Ordering::Acquire) < MAX_WAITING_HASHES + HASHING_THREADS {
            assert!(std::time::Instant::now() < deadline, "the jobs were queued");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let started = std::time::Instant::now();
        assert!(matches!(hash_password("x"), Err(ApiError::Busy(_))));
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        for _ in 0..held.len() {
            let _ = go.send(());
        }
        for job in held {
            assert!(job.join().unwrap().is_ok());
        }
        assert!(hash_password("x").is_ok());
    }
}
