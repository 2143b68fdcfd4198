//! The writer: threads with a connection each that group-commit the live sessions' writes.
//!
//! Every queued write runs in one transaction that commits once, and only then is each caller
//! answered, so a change is durable before anyone announces it. If one write fails, the batch
//! is rolled back and each write replayed alone. One writer means SQLite writers never wait on
//! each other's lock (whose busy handler sleeps), and on PostgreSQL many votes share one commit;
//! no per-write savepoint keeps a vote to one round trip.

use std::sync::{mpsc, Arc, Mutex};
use std::thread;

use diesel::connection::SimpleConnection;
use futures_channel::oneshot;

use crate::connection::{DatabaseUrl, DbConnection};
use crate::DbError;

/// The most writes committed together.
const MAX_BATCH: usize = 256;

/// A write waiting for the writer thread. Writes are replayable: a batch in which one write
/// fails is rolled back and each of its writes replayed alone, so only that one fails.
trait Job: Send {
    /// Runs the write in the current transaction and keeps its result; false when it failed.
    fn run(&mut self, conn: &mut DbConnection) -> bool;
    /// Answers the caller: its write's result if the transaction committed, else the reason.
    fn answer(self: Box<Self>, committed: Result<(), String>);
}

struct Typed<T, F> {
    work: F,
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
}

/// Handle to the writer threads; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
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
    /// Opens the writers' connections and starts their threads.
    pub fn start(url: &DatabaseUrl) -> Result<Writer, DbError> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..writer_threads(url) {
            let conn = url.connect()?;
            let (url, queue) = (url.clone(), queue.clone());
            thread::Builder::new()
                .name(format!("poker-db-writer-{i}"))
                .spawn(move || run(url, conn, queue))
                .map_err(|e| DbError::Connect(format!("cannot start a writer thread: {e}")))?;
        }
        Ok(Writer { jobs })
    }

    /// Queues a write; the answer comes once the transaction it ran in has committed. The write
    /// may run twice (after a rollback), so it must depend only on what it captured.
    pub fn write<T, F>(
        &self,
        work: F,
    ) -> impl std::future::Future<Output = Result<T, DbError>> + Send + 'static
    where
        T: Send + 'static,
        F: Fn(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Typed {
            work,
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
                Err(DbError::Unavailable(
                    "the database writer has stopped".into(),
                ))
            })
        }
    }
}

fn begin(conn: &mut DbConnection) -> Result<(), DbError> {
    let statement = match conn {
        DbConnection::Sqlite(_) => "BEGIN IMMEDIATE",
        DbConnection::Postgresql(_) => "BEGIN",
    };
    conn.batch_execute(statement).map_err(DbError::from)
}

/// Runs jobs in one transaction; `Ok(true)` when every job succeeded and it committed.
fn transaction(conn: &mut DbConnection, jobs: &mut [Box<dyn Job>]) -> Result<bool, String> {
    begin(conn).map_err(|e| e.to_string())?;
    if jobs.iter_mut().all(|job| job.run(conn)) {
        conn.batch_execute("COMMIT").map_err(|e| e.to_string())?;
        Ok(true)
    } else {
        conn.batch_execute("ROLLBACK").map_err(|e| e.to_string())?;
        Ok(false)
    }
}

/// Takes the next batch: waits for one job, then takes whatever else is queued.
fn next_batch(queue: &Mutex<mpsc::Receiver<Box<dyn Job>>>) -> Option<Vec<Box<dyn Job>>> {
    let queue = queue.lock().ok()?;
    let mut batch = vec![queue.recv().ok()?];
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

fn run(url: DatabaseUrl, mut conn: DbConnection, queue: Arc<Mutex<mpsc::Receiver<Box<dyn Job>>>>) {
    while let Some(mut batch) = next_batch(&queue) {
        let started = std::time::Instant::now();
        let size = batch.len();
        match transaction(&mut conn, &mut batch) {
            Ok(true) => {
                log::debug!("writer: {size} writes committed in {:?}", started.elapsed());
                for job in batch {
                    job.answer(Ok(()));
                }
            }
            Ok(false) => {
                // Some write failed and the batch was rolled back: replay each write alone,
                // so the others still commit and only the failing one reports its error.
                for mut job in batch {
                    let committed = match transaction(&mut conn, std::slice::from_mut(&mut job)) {
                        Ok(_) => Ok(()),
                        Err(e) => {
                            let _ = conn.batch_execute("ROLLBACK");
                            reconnect(&url, &mut conn);
                            Err(e)
                        }
                    };
                    job.answer(committed);
                }
            }
            Err(e) => {
                log::error!("database writer: transaction failed: {e}");
                let _ = conn.batch_execute("ROLLBACK");
                for job in batch {
                    job.answer(Err(e.clone()));
                }
                reconnect(&url, &mut conn);
            }
        }
    }
}

/// Replaces a connection that failed (the database restarted, say); keeps the old one if the
/// database is still away, to try again with the next batch.
fn reconnect(url: &DatabaseUrl, conn: &mut DbConnection) {
    match url.connect() {
        Ok(fresh) => *conn = fresh,
        Err(e) => log::error!("database writer: cannot reconnect: {e}"),
    }
}
