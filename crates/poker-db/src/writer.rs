//! The writer: one thread with one connection that group-commits the live sessions' writes.
//!
//! Every queued write runs in a savepoint of one transaction; the transaction commits once, and
//! only then is each caller answered, so a change is durable before anyone announces it. One
//! writer means SQLite writers never wait on each other's lock (whose busy handler sleeps), and
//! on PostgreSQL many votes share one commit (one WAL flush).

use std::sync::mpsc;
use std::thread;

use diesel::connection::SimpleConnection;
use futures_channel::oneshot;

use crate::connection::{DatabaseUrl, DbConnection};
use crate::DbError;

/// The most writes committed together.
const MAX_BATCH: usize = 256;

/// A write waiting for the writer thread.
trait Job: Send {
    /// Runs inside the batch's transaction; returns how to answer once the batch is settled.
    fn run(self: Box<Self>, conn: &mut DbConnection) -> Box<dyn Answer>;
    /// Answers without running (the transaction could not start).
    fn fail(self: Box<Self>, why: String);
}

/// A write that ran, waiting for its batch to commit.
trait Answer: Send {
    fn answer(self: Box<Self>, committed: Result<(), String>);
}

struct Typed<T, F> {
    work: F,
    reply: oneshot::Sender<Result<T, DbError>>,
}

struct Ran<T> {
    result: Result<T, DbError>,
    reply: oneshot::Sender<Result<T, DbError>>,
}

/// Runs `work` in a savepoint, so that its failure undoes only its own changes.
fn in_savepoint<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    conn.batch_execute("SAVEPOINT write")?;
    let result = work(conn);
    let end = if result.is_ok() {
        "RELEASE SAVEPOINT write"
    } else {
        "ROLLBACK TO SAVEPOINT write; RELEASE SAVEPOINT write"
    };
    conn.batch_execute(end)?;
    result
}

impl<T, F> Job for Typed<T, F>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut DbConnection) -> Box<dyn Answer> {
        let Typed { work, reply } = *self;
        Box::new(Ran {
            result: in_savepoint(conn, work),
            reply,
        })
    }

    fn fail(self: Box<Self>, why: String) {
        let _ = self.reply.send(Err(DbError::Unavailable(why)));
    }
}

impl<T: Send> Answer for Ran<T> {
    fn answer(self: Box<Self>, committed: Result<(), String>) {
        let outcome = match committed {
            Ok(()) => self.result,
            Err(why) => Err(DbError::Unavailable(why)),
        };
        let _ = self.reply.send(outcome);
    }
}

/// Handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Opens the writer's connection and starts its thread.
    pub fn start(url: &DatabaseUrl) -> Result<Writer, DbError> {
        let conn = url.connect()?;
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        let url = url.clone();
        thread::Builder::new()
            .name("poker-db-writer".into())
            .spawn(move || run(url, conn, queue))
            .map_err(|e| DbError::Connect(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer { jobs })
    }

    /// Queues a write; the answer comes once the transaction it ran in has committed.
    pub fn write<T, F>(
        &self,
        work: F,
    ) -> impl std::future::Future<Output = Result<T, DbError>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let queued = self.jobs.send(Box::new(Typed { work, reply })).is_ok();
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

fn run(url: DatabaseUrl, mut conn: DbConnection, queue: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let size = batch.len();
        if let Err(e) = begin(&mut conn) {
            log::error!("database writer: cannot begin a transaction: {e}");
            for job in batch {
                job.fail(e.to_string());
            }
            reconnect(&url, &mut conn);
            continue;
        }
        let ran: Vec<Box<dyn Answer>> = batch.into_iter().map(|job| job.run(&mut conn)).collect();
        let committed = conn.batch_execute("COMMIT").map_err(|e| e.to_string());
        if let Err(e) = &committed {
            log::error!("database writer: commit failed: {e}");
            let _ = conn.batch_execute("ROLLBACK");
        }
        log::debug!("writer: {size} writes committed in {:?}", started.elapsed());
        for answer in ran {
            answer.answer(committed.clone());
        }
        if committed.is_err() {
            reconnect(&url, &mut conn);
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
