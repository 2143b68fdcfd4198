//! The writer: supervised threads with a connection each that group-commit the live sessions'
//! writes.
//!
//! Every queued write runs in one transaction that commits once, and only then is each caller
//! answered, so a change is durable before anyone announces it. If one write fails, the batch
//! is rolled back and each write replayed alone. One writer means SQLite writers never wait on
//! each other's lock (whose busy handler sleeps), and on PostgreSQL many votes share one commit;
//! no per-write savepoint keeps a vote to one round trip.
//!
//! Faults: a transaction that fails for want of the database drops its connection (the database
//! rolls back whatever it had), answers its callers `Unavailable`, and the thread probes until
//! the database answers again, failing queued writes at once meanwhile. A write still queued
//! past its deadline is answered without running, so nothing runs after its caller gave up. A
//! thread that dies (a panic) or stalls (a database that accepts bytes and never answers) is
//! replaced by the supervisor; [`Writer::health`] reports the slot as down until its
//! replacement is connected.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::RunQueryDsl;
use futures_channel::oneshot;

use crate::connection::{DatabaseUrl, DbConnection};
use crate::prepared;
use crate::DbError;

/// The most writes committed together.
const MAX_BATCH: usize = 256;
/// How often a slot that lost the database tries it again.
const PROBE_EVERY: Duration = Duration::from_millis(500);
/// A connection idle longer than this runs even a single-statement write after a `BEGIN` of
/// its own: idle connections are the ones a database restart or failover has usually closed,
/// and a `BEGIN` that fails says for certain that nothing ran, so the write can be retried on a
/// new connection (a failed autocommitted statement cannot say whether it committed).
const AUTOCOMMIT_IF_USED_WITHIN: Duration = Duration::from_secs(1);
/// How often the supervisor looks at the slots.
const SUPERVISE_EVERY: Duration = Duration::from_millis(200);

/// A write waiting for the writer thread. Writes are replayable: a batch in which one write
/// fails is rolled back and each of its writes replayed alone, so only that one fails.
trait Job: Send {
    /// Runs the write in the current transaction and keeps its result; false when it failed.
    fn run(&mut self, conn: &mut DbConnection) -> bool;
    /// Answers the caller: its write's result if the transaction committed, else the reason.
    fn answer(self: Box<Self>, committed: Result<(), String>);
    /// Whether running it would be pointless: its deadline passed or its caller stopped waiting.
    fn abandoned(&self, now: Instant) -> bool;
    /// The session whose row it locks first; a batch runs in ascending order of these.
    fn session(&self) -> i64;
    /// Whether the write is a single SQL statement on PostgreSQL, atomic on its own: alone in
    /// its batch, it then runs in autocommit, one round trip instead of BEGIN, it, COMMIT.
    fn single_statement(&self) -> bool;
    /// Why it failed, if it ran and failed.
    fn failure(&self) -> Option<&DbError>;
}

struct Typed<T, F> {
    session: i64,
    shape: WriteShape,
    work: F,
    deadline: Instant,
    result: Option<Result<T, DbError>>,
    reply: oneshot::Sender<Result<T, DbError>>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send + 'static,
    F: Fn(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
{
    fn run(&mut self, conn: &mut DbConnection) -> bool {
        let result = (self.work)(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, committed: Result<(), String>) {
        let outcome = match (committed, self.result) {
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(DbError::Unavailable("the write did not run".into())),
            (Err(why), _) => Err(DbError::Unavailable(why)),
        };
        let _ = self.reply.send(outcome);
    }

    fn abandoned(&self, now: Instant) -> bool {
        now >= self.deadline || self.reply.is_canceled()
    }

    fn session(&self) -> i64 {
        self.session
    }

    fn single_statement(&self) -> bool {
        self.shape == WriteShape::SingleStatement
    }

    fn failure(&self) -> Option<&DbError> {
        self.result.as_ref().and_then(|r| r.as_ref().err())
    }
}

/// What a write is made of, which decides whether it may skip the transaction around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteShape {
    /// Any number of statements: always run in a transaction (with whatever else is queued).
    Statements,
    /// Exactly one SQL statement on PostgreSQL, atomic by itself: when no other write is queued
    /// beside it, on a connection in recent use, it runs in autocommit and commits in one round
    /// trip. On SQLite it runs as any write does.
    SingleStatement,
}

/// How a writer slot is doing, for `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotState {
    /// Connected; its last transaction did not fail for want of the database.
    Up,
    /// No usable connection, a dead or stalled thread being replaced: why.
    Down(String),
}

/// One writer thread's place: its state and, while it runs a batch, since when.
struct Slot {
    state: Mutex<SlotState>,
    /// Milliseconds since `Shared::epoch` when the running batch started; 0 while idle.
    busy_since_ms: AtomicU64,
    /// Bumped when the slot's thread is replaced; a replaced thread that wakes up exits.
    generation: AtomicU64,
}

struct Shared {
    url: DatabaseUrl,
    /// Bounds connecting and (on SQLite) waiting for the lock.
    timeout: Duration,
    queue: Mutex<mpsc::Receiver<Box<dyn Job>>>,
    slots: Vec<Slot>,
    epoch: Instant,
    /// Set once every handle is gone: threads and supervisor stop.
    closed: AtomicBool,
    /// Threads the supervisor restarted (died) or replaced (stalled), in all.
    restarts: AtomicU64,
}

impl Shared {
    fn set_state(&self, index: usize, state: SlotState) {
        let Ok(mut current) = self.slots[index].state.lock() else {
            return;
        };
        if *current != state {
            match &state {
                SlotState::Up => log::info!("database writer {index}: connected"),
                SlotState::Down(why) => log::error!("database writer {index}: down: {why}"),
            }
            *current = state;
        }
    }

    fn now_ms(&self) -> u64 {
        // Never 0, which means idle.
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// How long a batch may run before its thread counts as stalled and is replaced.
    fn stall_after(&self) -> Duration {
        self.timeout + Duration::from_secs(1)
    }
}

/// Handle to the writer threads; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
    shared: Arc<Shared>,
}

/// Writer threads (each with its own connection) sharing one queue: one for SQLite, whose
/// writers would only wait on each other's lock; several for PostgreSQL, where a transaction is
/// a few network round trips and writes of different sessions can run side by side. A session
/// never has two writes in flight, so its writes still apply in its order.
fn writer_threads(url: &DatabaseUrl) -> usize {
    match url {
        DatabaseUrl::Sqlite(_) => 1,
        DatabaseUrl::Postgres(_) => 4,
    }
}

impl Writer {
    /// Opens the writers' connections and starts their threads and their supervisor. `timeout`
    /// bounds each connection attempt and lock wait; see [`Writer::deadline`] for writes.
    pub fn start(url: &DatabaseUrl, timeout: Duration) -> Result<Writer, DbError> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        let count = writer_threads(url);
        let shared = Arc::new(Shared {
            url: url.clone(),
            timeout,
            queue: Mutex::new(queue),
            slots: (0..count)
                .map(|_| Slot {
                    state: Mutex::new(SlotState::Up),
                    busy_since_ms: AtomicU64::new(0),
                    generation: AtomicU64::new(0),
                })
                .collect(),
            epoch: Instant::now(),
            closed: AtomicBool::new(false),
            restarts: AtomicU64::new(0),
        });
        let mut threads = Vec::with_capacity(count);
        for index in 0..count {
            let conn = url.connect(timeout)?;
            threads.push(spawn_worker(&shared, index, 0, Some(conn))?);
        }
        let supervised = shared.clone();
        thread::Builder::new()
            .name("poker-db-supervisor".into())
            .spawn(move || supervise(supervised, threads))
            .map_err(|e| DbError::Connect(format!("cannot start the writer supervisor: {e}")))?;
        Ok(Writer { jobs, shared })
    }

    /// How long a caller should wait for a write before treating it as failed, with an
    /// outcome it cannot know (the reply to a COMMIT may be what was lost).
    pub fn deadline(&self) -> Duration {
        self.shared.stall_after()
    }

    /// How many writer threads the supervisor restarted or replaced since the start.
    pub fn restarts(&self) -> u64 {
        self.shared.restarts.load(Ordering::Acquire)
    }

    /// Each writer thread's state.
    pub fn health(&self) -> Vec<SlotState> {
        self.shared
            .slots
            .iter()
            .map(|slot| {
                slot.state
                    .lock()
                    .map(|s| s.clone())
                    .unwrap_or_else(|_| SlotState::Down("state lock poisoned".into()))
            })
            .collect()
    }

    /// Queues a write; the answer comes once the transaction it ran in has committed. The write
    /// may run twice (after a rollback), so it must depend only on what it captured. A write
    /// not started within [`Writer::deadline`] is answered `Unavailable` without running; the
    /// caller should stop waiting after that long too (a stalled thread answers nothing).
    /// `session` is the session whose row the write locks first (see [`crate::live`]).
    pub fn write<T, F>(
        &self,
        session: i64,
        shape: WriteShape,
        work: F,
    ) -> impl std::future::Future<Output = Result<T, DbError>> + Send + 'static
    where
        T: Send + 'static,
        F: Fn(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Typed {
            session,
            shape,
            work,
            deadline: Instant::now() + self.deadline(),
            result: None,
            reply,
        };
        let queued = self.jobs.send(Box::new(job)).is_ok();
        async move {
            if !queued {
                return Err(DbError::Unavailable(
                    "the database writer has stopped".into(),
                ));
            }
            answer.await.unwrap_or_else(|_| {
                // The thread died with the write in hand: whether it committed is unknown.
                Err(DbError::Unavailable(
                    "the database writer stopped during the write".into(),
                ))
            })
        }
    }
}

fn spawn_worker(
    shared: &Arc<Shared>,
    index: usize,
    generation: u64,
    conn: Option<DbConnection>,
) -> Result<JoinHandle<()>, DbError> {
    let shared = shared.clone();
    thread::Builder::new()
        .name(format!("poker-db-writer-{index}"))
        .spawn(move || work(shared, index, generation, conn))
        .map_err(|e| DbError::Connect(format!("cannot start a writer thread: {e}")))
}

/// Restarts threads that died and replaces threads that stalled, until the writer is closed.
fn supervise(shared: Arc<Shared>, mut threads: Vec<JoinHandle<()>>) {
    while !shared.closed.load(Ordering::Acquire) {
        thread::sleep(SUPERVISE_EVERY);
        for (index, thread) in threads.iter_mut().enumerate() {
            let slot = &shared.slots[index];
            let died = thread.is_finished();
            let busy_since = slot.busy_since_ms.load(Ordering::Acquire);
            let stalled = busy_since != 0
                && Duration::from_millis(shared.now_ms().saturating_sub(busy_since))
                    > shared.stall_after();
            if shared.closed.load(Ordering::Acquire) || !(died || stalled) {
                continue;
            }
            let why = if died {
                "its thread stopped (panicked); restarting it".to_string()
            } else {
                format!(
                    "a transaction has waited over {:?} for the database; replacing its thread",
                    shared.stall_after()
                )
            };
            shared.set_state(index, SlotState::Down(why));
            shared.restarts.fetch_add(1, Ordering::AcqRel);
            let generation = slot.generation.fetch_add(1, Ordering::AcqRel) + 1;
            slot.busy_since_ms.store(0, Ordering::Release);
            match spawn_worker(&shared, index, generation, None) {
                // A stalled thread is left to finish on its own; it exits when it sees that it
                // was replaced.
                Ok(handle) => *thread = handle,
                Err(e) => log::error!("database writer {index}: {e}"),
            }
        }
    }
}

/// Takes the next batch: waits for one job, then takes whatever else is queued. `None` once
/// every handle is gone.
fn next_batch(shared: &Shared) -> Option<Vec<Box<dyn Job>>> {
    let queue = shared.queue.lock().ok()?;
    let first = match queue.recv() {
        Ok(job) => job,
        Err(_) => {
            shared.closed.store(true, Ordering::Release);
            return None;
        }
    };
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    // Every transaction (of every thread and process) takes session row locks in ascending
    // order, so none waits on another in a cycle. The sort is stable: one session's writes
    // keep their order.
    batch.sort_by_key(|job| job.session());
    Some(batch)
}

/// Answers every job queued right now with `why`, without running it (the database is away).
fn fail_queued(shared: &Shared, why: &str) {
    // Held by a thread waiting in `recv`: then nothing is queued, and that thread takes the
    // next write itself.
    let Ok(queue) = shared.queue.try_lock() else {
        return;
    };
    while let Ok(job) = queue.try_recv() {
        job.answer(Err(why.to_string()));
    }
}

/// A connection that answers, and (on SQLite) a write lock that can be had: the slot is usable.
fn probe(conn: &mut DbConnection) -> Result<(), DbError> {
    match conn {
        DbConnection::Sqlite(_) => conn
            .batch_execute("BEGIN IMMEDIATE; ROLLBACK;")
            .map_err(DbError::from),
        DbConnection::Postgresql(_) => conn.batch_execute("SELECT 1").map_err(DbError::from),
    }
}

/// Connects (and probes) until the database answers; meanwhile queued writes fail at once.
/// `None` when the slot was replaced or the writer closed while waiting.
fn reconnect(shared: &Shared, index: usize, generation: u64) -> Option<DbConnection> {
    let slot = &shared.slots[index];
    loop {
        if slot.generation.load(Ordering::Acquire) != generation
            || shared.closed.load(Ordering::Acquire)
        {
            return None;
        }
        let attempt = shared
            .url
            .connect(shared.timeout)
            .and_then(|mut conn| probe(&mut conn).map(|()| conn));
        match attempt {
            Ok(conn) => {
                shared.set_state(index, SlotState::Up);
                return Some(conn);
            }
            Err(e) => {
                let why = format!("cannot reach the database: {e}");
                shared.set_state(index, SlotState::Down(why.clone()));
                fail_queued(shared, &why);
                thread::sleep(PROBE_EVERY);
            }
        }
    }
}

fn begin(conn: &mut DbConnection) -> Result<(), DbError> {
    match conn {
        DbConnection::Sqlite(sqlite) => prepared::BeginImmediate.execute(sqlite).map(drop),
        DbConnection::Postgresql(_) => conn.batch_execute("BEGIN"),
    }
    .map_err(DbError::from)
}

fn commit(conn: &mut DbConnection) -> Result<(), diesel::result::Error> {
    match conn {
        DbConnection::Sqlite(sqlite) => prepared::Commit.execute(sqlite).map(drop),
        DbConnection::Postgresql(_) => conn.batch_execute("COMMIT"),
    }
}

/// Why a transaction did not commit.
enum TxError {
    /// `BEGIN` failed: nothing was sent that could apply (typically a connection the database
    /// dropped while it sat idle), so the batch can run again on a new connection.
    NotStarted(String),
    /// It failed after it began: the outcome is known only to the database.
    Failed(String),
    /// It ran, but every caller had stopped waiting, so it was rolled back (the connection is
    /// fine).
    Abandoned,
}

const TOO_LATE: &str = "the database answered too late; the write was rolled back";

/// Runs jobs in one transaction; `Ok(true)` when every job succeeded and it committed,
/// `Ok(false)` when one failed and it rolled back, `Err` when the transaction itself failed
/// (the connection is then dropped: the database rolls back what it had).
fn transaction(
    conn: &mut DbConnection,
    jobs: &mut [Box<dyn Job>],
    may_autocommit: bool,
) -> Result<bool, TxError> {
    if let [job] = jobs {
        if may_autocommit && job.single_statement() && matches!(conn, DbConnection::Postgresql(_)) {
            return autocommit(conn, job);
        }
    }
    begin(conn).map_err(|e| TxError::NotStarted(e.to_string()))?;
    let failed = |e: diesel::result::Error| TxError::Failed(e.to_string());
    if jobs.iter_mut().all(|job| job.run(conn)) {
        // Every caller stopped waiting (the database was slow to answer): committing now would
        // apply changes they were told had failed.
        let now = Instant::now();
        if jobs.iter().all(|job| job.abandoned(now)) {
            conn.batch_execute("ROLLBACK").map_err(failed)?;
            return Err(TxError::Abandoned);
        }
        commit(conn).map_err(failed)?;
        Ok(true)
    } else {
        conn.batch_execute("ROLLBACK").map_err(failed)?;
        Ok(false)
    }
}

/// Runs a single-statement write without a transaction around it: PostgreSQL commits it on its
/// own, in the one round trip. Only on a connection that answered within
/// [`AUTOCOMMIT_IF_USED_WITHIN`]; an idle one gets a `BEGIN` first (see there). Its outcomes map onto [`transaction`]'s: a statement that failed
/// changed nothing; if the connection is gone too, a backend terminated while idle (what BEGIN
/// would have found) never ran it and may be retried, any other loss leaves the outcome unknown.
fn autocommit(conn: &mut DbConnection, job: &mut Box<dyn Job>) -> Result<bool, TxError> {
    if job.run(conn) {
        return Ok(true);
    }
    let why = job.failure().map(|e| e.to_string()).unwrap_or_default();
    if conn.batch_execute("SELECT 1").is_ok() {
        // The statement itself failed (a constraint, say); the connection is fine.
        return Ok(false);
    }
    if why.contains("terminating connection due to administrator command") {
        Err(TxError::NotStarted(why))
    } else {
        Err(TxError::Failed(why))
    }
}

/// What became of a batch.
enum Outcome {
    /// Every caller was answered; the connection is fine.
    Done,
    /// Every caller was answered; the connection must be replaced.
    Broken,
    /// Nothing ran (the connection was dead before the batch began): run it on a new one.
    Retry(Vec<Box<dyn Job>>),
}

/// Runs one batch on `conn`.
/// `recently_used`: the connection answered within [`AUTOCOMMIT_IF_USED_WITHIN`], so a
/// single-statement write may run in autocommit.
fn run_batch(
    conn: &mut DbConnection,
    mut batch: Vec<Box<dyn Job>>,
    may_retry: bool,
    recently_used: bool,
) -> Outcome {
    let started = Instant::now();
    let size = batch.len();
    match transaction(conn, &mut batch, recently_used) {
        Ok(true) => {
            log::debug!("writer: {size} writes committed in {:?}", started.elapsed());
            for job in batch {
                job.answer(Ok(()));
            }
            Outcome::Done
        }
        Ok(false) => {
            // Some write failed and the batch was rolled back: replay each write alone, so the
            // others still commit and only the failing one reports its error.
            let mut jobs = batch.into_iter();
            while let Some(mut job) = jobs.next() {
                match transaction(conn, std::slice::from_mut(&mut job), true) {
                    Ok(_) => job.answer(Ok(())),
                    Err(TxError::Abandoned) => job.answer(Err(TOO_LATE.into())),
                    Err(TxError::NotStarted(e) | TxError::Failed(e)) => {
                        log::error!("database writer: transaction failed: {e}");
                        job.answer(Err(e.clone()));
                        for job in jobs {
                            job.answer(Err(e.clone()));
                        }
                        return Outcome::Broken;
                    }
                }
            }
            Outcome::Done
        }
        Err(TxError::Abandoned) => {
            log::warn!("database writer: {size} writes {TOO_LATE}");
            for job in batch {
                job.answer(Err(TOO_LATE.into()));
            }
            Outcome::Done
        }
        Err(TxError::NotStarted(e)) if may_retry => {
            log::warn!("database writer: the connection was lost ({e}); reconnecting");
            Outcome::Retry(batch)
        }
        Err(TxError::NotStarted(e) | TxError::Failed(e)) => {
            log::error!("database writer: transaction failed: {e}");
            for job in batch {
                job.answer(Err(e.clone()));
            }
            Outcome::Broken
        }
    }
}

fn work(shared: Arc<Shared>, index: usize, generation: u64, mut conn: Option<DbConnection>) {
    let slot = &shared.slots[index];
    let current = || slot.generation.load(Ordering::Acquire) == generation;
    // A batch to run again on a new connection (its first one was found dead).
    let mut retry: Option<Vec<Box<dyn Job>>> = None;
    // When the connection in hand last answered (a new one answered when it connected).
    let mut answered_at = Instant::now();
    loop {
        if let Some(batch) = retry.take() {
            // One attempt at a new connection for a batch whose connection was found dead; if
            // the database is away, its callers hear so now rather than at their deadline.
            match shared.url.connect(shared.timeout) {
                Ok(c) => {
                    conn = Some(c);
                    answered_at = Instant::now();
                    retry = Some(batch);
                }
                Err(e) => {
                    let why = format!("cannot reach the database: {e}");
                    shared.set_state(index, SlotState::Down(why.clone()));
                    for job in batch {
                        job.answer(Err(why.clone()));
                    }
                }
            }
        }
        let mut connection = match conn.take() {
            Some(c) => c,
            None => match reconnect(&shared, index, generation) {
                Some(c) => {
                    answered_at = Instant::now();
                    c
                }
                None => return,
            },
        };
        let may_retry = retry.is_none();
        let batch = match retry.take() {
            Some(batch) => batch,
            None => match next_batch(&shared) {
                Some(batch) => batch,
                None => return,
            },
        };
        let now = Instant::now();
        let (batch, abandoned): (Vec<_>, Vec<_>) =
            batch.into_iter().partition(|job| !job.abandoned(now));
        for job in abandoned {
            job.answer(Err("the database did not take the write in time".into()));
        }
        if batch.is_empty() {
            conn = Some(connection);
            continue;
        }
        slot.busy_since_ms.store(shared.now_ms(), Ordering::Release);
        let recently_used = answered_at.elapsed() < AUTOCOMMIT_IF_USED_WITHIN;
        let outcome = run_batch(&mut connection, batch, may_retry, recently_used);
        if !current() {
            // The supervisor gave up on this thread while it waited and started another.
            return;
        }
        slot.busy_since_ms.store(0, Ordering::Release);
        match outcome {
            Outcome::Done => {
                answered_at = Instant::now();
                conn = Some(connection);
            }
            Outcome::Retry(batch) => retry = Some(batch),
            Outcome::Broken => shared.set_state(
                index,
                SlotState::Down("a transaction failed; reconnecting".into()),
            ),
        }
    }
}
