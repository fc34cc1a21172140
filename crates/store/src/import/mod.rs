//! Bulk lead import from CSV: one streaming path for the HTTP upload and `switchboard import`.
//!
//! A blocking thread parses and validates rows (phone normalization is the costly part) and
//! hands chunks to the inserter over a bounded channel, so memory stays flat for files of any
//! size. Good rows import even when others are bad; each bad row is reported by line number.

use std::collections::HashMap;
use std::io::Read;

use serde::Serialize;
use switchboard_core::PhoneNormalizer;
use tokio::sync::mpsc;

use crate::{Backend, Db, StoreError, Tx, lists, now, sql};

mod borrowing;
mod parse;
pub use parse::open_csv;
mod sqlite;
use parse::{Msg, Recycle, Rows, parse_stream, recycling};

/// Rows per batch handed from the parser to the inserter: on PostgreSQL one `COPY` into a
/// staging table.
fn chunk_rows(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 1000,
        Backend::Postgres => 20_000,
    }
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub client_id: i64,
    /// Leads without a `list` column go here.
    pub list_id: Option<i64>,
    /// How many bad rows to describe in the report (all are counted).
    pub max_reported_errors: usize,
    /// Commit every this many rows (`None`: the whole file is one transaction).
    pub commit_every: Option<u64>,
    /// PostgreSQL, with `commit_every` set: insert through this many sessions at once (1: one).
    /// Each commits on its own; the file's order still decides which row of a phone is kept
    /// and the leads' ids. SQLite has one writer and ignores it.
    pub jobs: usize,
    /// Rows per chunk handed to the inserter (`None`: the backend's default; tests set it small).
    pub chunk_rows: Option<usize>,
}

impl ImportOptions {
    pub fn new(client_id: i64) -> Self {
        Self {
            client_id,
            list_id: None,
            max_reported_errors: 1000,
            commit_every: None,
            jobs: 1,
            chunk_rows: None,
        }
    }
}

/// A row the import refused.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RowError {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub total_processed: u64,
    pub success_count: u64,
    pub duplicate_count: u64,
    pub error_count: u64,
    pub errors: Vec<RowError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input is not a CSV file of leads at all; nothing was imported.
    #[error("{0}")]
    NotCsv(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Import leads from CSV `input` into `opts.client_id`.
pub async fn import_csv<R: Read + Send + 'static>(
    db: &Db,
    input: R,
    phones: PhoneNormalizer,
    opts: ImportOptions,
    progress: impl FnMut(&ImportReport) + Send + 'static,
) -> Result<ImportReport, ImportError> {
    // Chunks parsed ahead of the inserter. PostgreSQL's are 20,000 rows (about 6 MB each) and
    // the parser outruns the database anyway: two ahead keep it busy.
    let ahead = match db.backend() {
        Backend::Sqlite => 8,
        Backend::Postgres => 2,
    };
    let (tx, rx) = mpsc::channel::<Msg>(ahead);
    let rows = opts
        .chunk_rows
        // Sessions in parallel each hold a chunk and one queued: smaller chunks, the same memory.
        .unwrap_or_else(|| chunk_rows(db.backend()) / opts.jobs.max(1))
        .max(1);
    // Every chunk that can be in flight (queued, being parsed, being inserted) can wait to
    // be reused.
    let (recycle, reuse) = recycling(rows, ahead + 2);
    let parser = tokio::task::spawn_blocking(move || parse_stream(input, phones, tx, reuse));
    let mut report = match db.sqlite_path() {
        Some(path) => {
            sqlite::import_sqlite(db, path.to_path_buf(), rx, recycle, opts, progress, parser)
                .await?
        }
        None if opts.jobs > 1 && opts.commit_every.is_some() => {
            import_pg_parallel(db, rx, opts, progress, parser).await?
        }
        None => import_pg(db, rx, recycle, opts, progress, parser).await?,
    };
    // A large import leaves the planner's picture of `leads` stale until autovacuum comes by
    // (PostgreSQL): a lookup by id was planned as a walk of the client's leads. SQLite's is
    // refreshed hourly; an upload into a running server would wait for it, and connections
    // opened meanwhile would plan as for the table before the upload.
    if report.success_count >= 10_000 {
        db.refresh_stats(&["leads"]).await?;
        db.optimize().await?;
    }
    report.errors.sort_by_key(|e| e.line);
    Ok(report)
}

type Parser = tokio::task::JoinHandle<Result<(), ImportError>>;

/// The parser's verdict comes first: a file that is not CSV imports nothing.
async fn verdict(parser: Parser) -> Result<(), ImportError> {
    match parser.await {
        Ok(r) => r,
        Err(e) => Err(ImportError::NotCsv(format!("the parser stopped: {e}"))),
    }
}

impl ImportReport {
    fn bad(&mut self, err: RowError, max_reported: usize) {
        self.total_processed += 1;
        self.error_count += 1;
        if self.errors.len() < max_reported {
            self.errors.push(err);
        }
    }

    fn rows(&mut self, n: u64, inserted: u64) {
        self.total_processed += n;
        self.success_count += inserted;
        self.duplicate_count += n - inserted;
    }
}

async fn import_pg(
    db: &Db,
    mut rx: mpsc::Receiver<Msg>,
    recycle: Recycle,
    opts: ImportOptions,
    mut progress: impl FnMut(&ImportReport) + Send,
    parser: Parser,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    let mut lists_by_name: HashMap<String, i64> = HashMap::new();
    let mut txn: Option<Tx> = None;
    let mut since_commit = 0u64;
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Bad(err) => report.bad(err, opts.max_reported_errors),
            Msg::Rows(rows) => {
                let t = match txn.as_mut() {
                    Some(t) => t,
                    None => {
                        let t = txn.insert(db.begin().await?);
                        check_default_list(t, &opts).await?;
                        t
                    }
                };
                ensure_lists(t, opts.client_id, &rows, &mut lists_by_name).await?;
                let lists = list_ids(&rows, opts.list_id, &lists_by_name);
                let inserted = insert_chunk(t, opts.client_id, &rows, &lists, None).await?;
                let n = rows.len() as u64;
                recycle.give_back(rows);
                report.rows(n, inserted);
                since_commit += n;
                if opts.commit_every.is_some_and(|every| since_commit >= every) {
                    if let Some(t) = txn.take() {
                        t.commit().await?;
                    }
                    since_commit = 0;
                }
            }
        }
        progress(&report);
    }
    verdict(parser).await?;
    if let Some(t) = txn {
        t.commit().await?;
    }
    Ok(report)
}

/// A parallel import's unit of work: rows with their lists and ids, or the end (commit).
enum Job {
    Rows(Rows, Vec<Option<i64>>, Vec<i64>),
    Finish,
}

/// Where a parallel import's worker got to: rows it was given, rows it inserted.
type Done = (u64, u64);

/// PostgreSQL, `opts.jobs` sessions at once. This task keeps the file's order: it drops
/// phones already seen earlier in the file (the first row of a phone is the one kept, as in one
/// session), creates lists in a transaction of its own before rows name them, and takes each
/// new row's id from the leads' sequence in file order, so ids (the order campaigns and the
/// queue follow) are the file's order whichever session inserts a row first. Sessions then
/// share nothing but leads already in the database (`ON CONFLICT DO NOTHING`). Each commits
/// every `commit_every` rows and at the end, once the parser's verdict is in; a failed session
/// stops the import, and the others roll back what they have not committed.
async fn import_pg_parallel(
    db: &Db,
    mut rx: mpsc::Receiver<Msg>,
    opts: ImportOptions,
    mut progress: impl FnMut(&ImportReport) + Send,
    parser: Parser,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    let mut lists_by_name: HashMap<String, i64> = HashMap::new();
    // Phones seen so far: E.164 numbers have at most 15 digits, so each fits a u64 exactly.
    let mut seen: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut seen_text: std::collections::HashSet<String> = std::collections::HashSet::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut senders = Vec::new();
    let mut workers = Vec::new();
    for _ in 0..opts.jobs {
        let (tx, jobs) = mpsc::channel::<Job>(1);
        senders.push(tx);
        workers.push(tokio::spawn(pg_worker(
            db.clone(),
            opts.clone(),
            jobs,
            done_tx.clone(),
        )));
    }
    drop(done_tx);
    let mut next = 0usize;
    let mut failed = false;
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Bad(err) => report.bad(err, opts.max_reported_errors),
            Msg::Rows(rows) => {
                let n = rows.len() as u64;
                let mut rows = rows;
                rows.retain(|r| {
                    match r
                        .phone
                        .strip_prefix('+')
                        .and_then(|d| d.parse::<u64>().ok())
                    {
                        Some(k) => seen.insert(k),
                        None => seen_text.insert(r.phone.to_string()),
                    }
                });
                // Repeats within the file: processed, not inserted.
                report.rows(n - rows.len() as u64, 0);
                if rows.is_empty() {
                    progress(&report);
                    continue;
                }
                // Lists first, committed, so every session's rows can name them.
                if rows
                    .iter()
                    .any(|r| r.list.is_some_and(|n| !lists_by_name.contains_key(n)))
                {
                    let mut t = db.begin().await?;
                    ensure_lists(&mut t, opts.client_id, &rows, &mut lists_by_name).await?;
                    t.commit().await?;
                }
                let lists = list_ids(&rows, opts.list_id, &lists_by_name);
                let mut ids: Vec<(i64,)> = sql(
                    "SELECT nextval(pg_get_serial_sequence('leads', 'id')) FROM generate_series(1, $1)",
                )
                .arg(rows.len() as i64)
                .fetch_all(&mut db.write().await?)
                .await?;
                ids.sort_unstable();
                let ids = ids.into_iter().map(|(id,)| id).collect();
                if senders[next % senders.len()]
                    .send(Job::Rows(rows, lists, ids))
                    .await
                    .is_err()
                {
                    failed = true; // that session stopped; its error is collected below
                    break;
                }
                next += 1;
            }
        }
        while let Ok((n, inserted)) = done_rx.try_recv() {
            report.rows(n, inserted);
        }
        progress(&report);
    }
    drop(rx);
    // A file that is not CSV imports nothing: the sessions commit their last rows only after
    // the parser's verdict.
    let verdict = if failed {
        Ok(())
    } else {
        verdict(parser).await
    };
    if !failed && verdict.is_ok() {
        for tx in &senders {
            let _ = tx.send(Job::Finish).await;
        }
    }
    drop(senders);
    let mut first_err: Option<ImportError> = None;
    for w in workers {
        let r = match w.await {
            Ok(r) => r.map_err(ImportError::from),
            // A crashed session is the server's failure, not the file's.
            Err(e) => Err(ImportError::Store(StoreError::Db(sqlx::Error::Io(
                std::io::Error::other(format!("an import session stopped: {e}")),
            )))),
        };
        if let Err(e) = r {
            first_err.get_or_insert(e);
        }
    }
    verdict?;
    if let Some(e) = first_err {
        return Err(e);
    }
    if failed {
        // A session stopped taking rows without an error of its own: never report success.
        return Err(ImportError::Store(StoreError::Db(sqlx::Error::Io(
            std::io::Error::other("an import session stopped before the end of the file"),
        ))));
    }
    while let Ok((n, inserted)) = done_rx.try_recv() {
        report.rows(n, inserted);
    }
    progress(&report);
    Ok(report)
}

/// One session of a parallel import (see [`import_pg_parallel`]).
async fn pg_worker(
    db: Db,
    opts: ImportOptions,
    mut jobs: mpsc::Receiver<Job>,
    done: mpsc::UnboundedSender<Done>,
) -> Result<(), StoreError> {
    let mut txn: Option<Tx> = None;
    let mut since_commit = 0u64;
    while let Some(job) = jobs.recv().await {
        match job {
            Job::Rows(rows, lists, ids) => {
                let t = match txn.as_mut() {
                    Some(t) => t,
                    None => {
                        let t = txn.insert(db.begin().await?);
                        check_default_list(t, &opts).await?;
                        t
                    }
                };
                let inserted = insert_chunk(t, opts.client_id, &rows, &lists, Some(&ids)).await?;
                let n = rows.len() as u64;
                let _ = done.send((n, inserted));
                since_commit += n;
                if opts.commit_every.is_some_and(|every| since_commit >= every) {
                    if let Some(t) = txn.take() {
                        t.commit().await?;
                    }
                    since_commit = 0;
                }
            }
            Job::Finish => {
                if let Some(t) = txn.take() {
                    t.commit().await?;
                }
                return Ok(());
            }
        }
    }
    // Stopped without `Finish`: what is not committed rolls back.
    Ok(())
}

/// The default list must be the client's own (its foreign key proves only that it exists);
/// checked in the import's transaction, which the list cannot leave before it commits.
async fn check_default_list(t: &mut Tx, opts: &ImportOptions) -> Result<(), StoreError> {
    let Some(list) = opts.list_id else {
        return Ok(());
    };
    let found: Option<(i64,)> = sql(
        "SELECT id FROM lists WHERE id = $1 AND client_id = $2 AND deleted_at IS NULL \
             FOR KEY SHARE",
    )
    .arg(list)
    .arg(opts.client_id)
    .fetch_optional(t)
    .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::Invalid(format!("list {list} does not exist"))),
    }
}

/// Create the lists `rows` name that `lists_by_name` does not know yet, and learn their ids.
async fn ensure_lists(
    t: &mut Tx,
    client_id: i64,
    rows: &Rows,
    lists_by_name: &mut HashMap<String, i64>,
) -> Result<(), StoreError> {
    for name in rows.iter().filter_map(|r| r.list) {
        if !lists_by_name.contains_key(name) {
            let id = lists::ensure(t, client_id, name).await?;
            lists_by_name.insert(name.to_string(), id);
        }
    }
    Ok(())
}

/// Each row's list: its `list` column's, else the default.
fn list_ids(
    rows: &Rows,
    default_list: Option<i64>,
    lists_by_name: &HashMap<String, i64>,
) -> Vec<Option<i64>> {
    rows.iter()
        .map(|r| {
            r.list
                .and_then(|n| lists_by_name.get(n).copied())
                .or(default_list)
        })
        .collect()
}

async fn insert_chunk(
    ex: &mut Tx,
    client_id: i64,
    rows: &Rows,
    lists: &[Option<i64>],
    ids: Option<&[i64]>,
) -> Result<u64, StoreError> {
    match ex {
        Tx::Pg(t) => copy_chunk(t, client_id, rows, lists, ids).await,
        Tx::Sqlite(_) => Err(StoreError::Invalid(
            "SQLite imports go through the bulk importer".into(),
        )),
    }
}

/// PostgreSQL: `COPY` the batch into a session-local staging table, then one
/// `INSERT … SELECT … ON CONFLICT DO NOTHING` moves the new numbers in. `lists` holds each
/// row's list; `ids`, when given, each row's id (taken from the leads' sequence in file order
/// by a parallel import), else the ids come from the sequence as rows go in.
async fn copy_chunk(
    conn: &mut sqlx::PgConnection,
    client_id: i64,
    rows: &Rows,
    lists: &[Option<i64>],
    ids: Option<&[i64]>,
) -> Result<u64, StoreError> {
    use sqlx::Executor;
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS lead_import (id BIGINT, list_id BIGINT, phone TEXT, name TEXT, email TEXT, \
         priority TEXT, tags TEXT, timezone TEXT, notes TEXT)",
    )
    .await?;
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(rows.len() * 96));
    for (k, r) in rows.iter().enumerate() {
        let id = ids.map(|ids| ids[k].to_string()).unwrap_or_default();
        let list = lists[k].map(|l| l.to_string()).unwrap_or_default();
        w.write_record([
            id.as_str(),
            list.as_str(),
            r.phone,
            r.name.unwrap_or(""),
            r.email.unwrap_or(""),
            r.priority,
            r.tags,
            r.timezone.unwrap_or(""),
            r.notes.unwrap_or(""),
        ])
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    }
    let data = w
        .into_inner()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    // Empty fields are NULL in COPY's CSV format (quoted empty strings would not be).
    let mut copy = conn
        .copy_in_raw("COPY lead_import FROM STDIN WITH (FORMAT csv)")
        .await?;
    copy.send(data).await?;
    copy.finish().await?;
    let inserted = sql(if ids.is_some() {
        "INSERT INTO leads (id, client_id, list_id, phone, name, email, priority, tags, timezone, notes, created_at, updated_at) \
         SELECT id, $1, list_id, phone, name, email, priority, tags::jsonb, timezone, notes, $2, $2 FROM lead_import \
         ON CONFLICT (client_id, phone) WHERE deleted_at IS NULL DO NOTHING"
    } else {
        "INSERT INTO leads (client_id, list_id, phone, name, email, priority, tags, timezone, notes, created_at, updated_at) \
         SELECT $1, list_id, phone, name, email, priority, tags::jsonb, timezone, notes, $2, $2 FROM lead_import \
         ON CONFLICT (client_id, phone) WHERE deleted_at IS NULL DO NOTHING"
    })
    .arg(client_id)
    .arg(now())
    .execute(&mut PgExec(conn))
    .await?;
    conn.execute("TRUNCATE lead_import").await?;
    Ok(inserted)
}

struct PgExec<'a>(&'a mut sqlx::PgConnection);

impl crate::AsExec for PgExec<'_> {
    fn exec(&mut self) -> crate::db::Exec<'_> {
        crate::db::Exec::Pg(self.0)
    }
}
