//! Bulk lead import from CSV: one streaming path for the HTTP upload and `switchboard import`.
//!
//! A blocking thread parses and validates rows (phone normalization is the costly part) and
//! hands chunks to the inserter over a bounded channel, so memory stays flat for files of any
//! size. Good rows import even when others are bad; each bad row is reported by line number.

use std::collections::HashMap;
use std::io::Read;

use rusqlite::OptionalExtension;

use serde::Serialize;
use switchboard_core::csv_columns::{LeadColumn, match_header, sniff_delimiter};
use switchboard_core::lead::normalize_tag;
use switchboard_core::{PhoneNormalizer, Priority};
use tokio::sync::mpsc;

use crate::{Backend, Db, StoreError, Tx, lists, now, sql};

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

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RowError {
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

struct ParsedRow {
    phone: String,
    name: Option<String>,
    email: Option<String>,
    priority: &'static str,
    /// The tags as the JSON array stored in `leads.tags`, built on the parser's thread.
    tags: String,
    timezone: Option<String>,
    list: Option<String>,
    notes: Option<String>,
}

enum Msg {
    Rows(Vec<ParsedRow>),
    Bad(RowError),
}

struct Columns {
    map: Vec<(usize, LeadColumn)>,
}

impl Columns {
    fn from_header(header: &csv::ByteRecord) -> Result<Self, ImportError> {
        let mut map = Vec::new();
        for (i, cell) in header.iter().enumerate() {
            let cell = std::str::from_utf8(cell).map_err(|_| {
                ImportError::NotCsv("the header row is not UTF-8 text; is this a CSV file?".into())
            })?;
            if let Some(col) = match_header(cell)
                && !map.iter().any(|(_, c)| *c == col)
            {
                map.push((i, col));
            }
        }
        if !map.iter().any(|(_, c)| *c == LeadColumn::Phone) {
            return Err(ImportError::NotCsv(
                "no phone column: the first row must name one (phone, phone_number, mobile, …)"
                    .into(),
            ));
        }
        Ok(Self { map })
    }

    fn parse(&self, rec: &csv::ByteRecord, phones: &PhoneNormalizer) -> Result<ParsedRow, String> {
        let mut row = ParsedRow {
            phone: String::new(),
            name: None,
            email: None,
            priority: "medium",
            tags: String::from("[]"),
            timezone: None,
            list: None,
            notes: None,
        };
        let (mut first, mut last) = (None, None);
        let mut raw_phone = "";
        for &(i, col) in &self.map {
            let Some(bytes) = rec.get(i) else { continue };
            let v = std::str::from_utf8(bytes)
                .map_err(|_| format!("column {} is not UTF-8 text", i + 1))?
                .trim();
            if v.is_empty() {
                continue;
            }
            match col {
                LeadColumn::Phone => raw_phone = v,
                LeadColumn::Name => row.name = Some(clip(v, 200)),
                LeadColumn::FirstName => first = Some(v),
                LeadColumn::LastName => last = Some(v),
                LeadColumn::Email => {
                    if !v.contains('@') || v.len() > 254 {
                        return Err(format!("'{v}' is not an email address"));
                    }
                    row.email = Some(v.to_lowercase());
                }
                LeadColumn::Priority => {
                    row.priority = Priority::parse(v)
                        .ok_or_else(|| {
                            format!("priority '{v}' is not urgent, high, medium or low")
                        })?
                        .as_str()
                }
                LeadColumn::Tags => {
                    let mut tags: Vec<String> =
                        v.split(['|', ',', ';']).filter_map(normalize_tag).collect();
                    tags.dedup();
                    row.tags = serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into());
                }
                LeadColumn::Timezone => {
                    v.parse::<chrono_tz::Tz>()
                        .map_err(|_| format!("'{v}' is not an IANA time zone"))?;
                    row.timezone = Some(v.to_string());
                }
                LeadColumn::List => row.list = Some(clip(v, 100)),
                LeadColumn::Notes => row.notes = Some(clip(v, 2000)),
            }
        }
        row.phone = phones.normalize(raw_phone).map_err(|e| e.to_string())?;
        if row.name.is_none() && (first.is_some() || last.is_some()) {
            let n = format!("{} {}", first.unwrap_or(""), last.unwrap_or(""));
            row.name = Some(clip(n.trim(), 200));
        }
        Ok(row)
    }
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Parse `input` on the calling (blocking) thread, sending chunks to `tx`.
fn parse_stream(
    input: impl Read,
    phones: PhoneNormalizer,
    tx: mpsc::Sender<Msg>,
    chunk_rows: usize,
) -> Result<(), ImportError> {
    let mut input = std::io::BufReader::with_capacity(256 * 1024, input);
    // Peek the first line to pick the delimiter and to drop a UTF-8 byte-order mark.
    let buf =
        std::io::BufRead::fill_buf(&mut input).map_err(|e| ImportError::NotCsv(e.to_string()))?;
    if buf.is_empty() {
        return Err(ImportError::NotCsv("the file is empty".into()));
    }
    if buf.contains(&0) {
        return Err(ImportError::NotCsv(
            "the file is binary, not CSV text".into(),
        ));
    }
    let bom = if buf.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let line_end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    let delimiter = sniff_delimiter(&buf[bom..line_end]);
    std::io::BufRead::consume(&mut input, bom);

    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(input);
    let header = rdr
        .byte_headers()
        .map_err(|e| ImportError::NotCsv(format!("cannot read the header row: {e}")))?
        .clone();
    let columns = Columns::from_header(&header)?;

    let mut rec = csv::ByteRecord::new();
    let mut chunk = Vec::with_capacity(chunk_rows);
    loop {
        let line = rdr.position().line();
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                if rec.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
                    continue; // blank line
                }
                match columns.parse(&rec, &phones) {
                    Ok(row) => {
                        chunk.push(row);
                        if chunk.len() == chunk_rows {
                            let full =
                                std::mem::replace(&mut chunk, Vec::with_capacity(chunk_rows));
                            if tx.blocking_send(Msg::Rows(full)).is_err() {
                                return Ok(()); // the inserter stopped; it reports why
                            }
                        }
                    }
                    Err(reason) => {
                        if tx
                            .blocking_send(Msg::Bad(RowError { line, reason }))
                            .is_err()
                        {
                            return Ok(());
                        }
                    }
                }
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(line);
                let reason = format!("malformed CSV: {e}");
                if tx
                    .blocking_send(Msg::Bad(RowError { line, reason }))
                    .is_err()
                {
                    return Ok(());
                }
                // An I/O error cannot be skipped past; a parse error can.
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
            }
        }
    }
    if !chunk.is_empty() {
        let _ = tx.blocking_send(Msg::Rows(chunk));
    }
    Ok(())
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
    let parser = tokio::task::spawn_blocking(move || parse_stream(input, phones, tx, rows));
    let mut report = match db.sqlite_path() {
        Some(path) => import_sqlite(db, path.to_path_buf(), rx, opts, progress, parser).await?,
        None if opts.jobs > 1 && opts.commit_every.is_some() => {
            import_pg_parallel(db, rx, opts, progress, parser).await?
        }
        None => import_pg(db, rx, opts, progress, parser).await?,
    };
    // A large import leaves the planner's picture of `leads` stale until autovacuum comes by
    // (PostgreSQL): a lookup by id was planned as a walk of the client's leads.
    if report.success_count >= 10_000 {
        db.refresh_stats(&["leads"]).await?;
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
    Rows(Vec<ParsedRow>, Vec<Option<i64>>, Vec<i64>),
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
                let rows: Vec<ParsedRow> = rows
                    .into_iter()
                    .filter(|r| {
                        match r
                            .phone
                            .strip_prefix('+')
                            .and_then(|d| d.parse::<u64>().ok())
                        {
                            Some(k) => seen.insert(k),
                            None => seen_text.insert(r.phone.clone()),
                        }
                    })
                    .collect();
                // Repeats within the file: processed, not inserted.
                report.rows(n - rows.len() as u64, 0);
                if rows.is_empty() {
                    progress(&report);
                    continue;
                }
                // Lists first, committed, so every session's rows can name them.
                if rows.iter().any(|r| {
                    r.list
                        .as_ref()
                        .is_some_and(|n| !lists_by_name.contains_key(n))
                }) {
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
    let found: Option<(i64,)> =
        sql("SELECT id FROM lists WHERE id = $1 AND client_id = $2 FOR KEY SHARE")
            .arg(list)
            .arg(opts.client_id)
            .fetch_optional(t)
            .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::Invalid(format!("list {list} does not exist"))),
    }
}

/// SQLite: 50-row `INSERT OR IGNORE` statements (see [`insert_sql`]) on a connection of the
/// importer's own, on a blocking thread, while the store's writer connection is held so no
/// other write of this process waits on SQLite's lock instead of in the pool's queue. Going
/// through the async driver cost more than SQLite's own work (every batch's arguments copied
/// twice and a message to the driver's worker thread per statement); this runs at the speed of
/// SQLite's B-trees.
async fn import_sqlite(
    db: &Db,
    path: std::path::PathBuf,
    rx: mpsc::Receiver<Msg>,
    opts: ImportOptions,
    progress: impl FnMut(&ImportReport) + Send + 'static,
    parser: Parser,
) -> Result<ImportReport, ImportError> {
    let writer = db.write().await?;
    let stamp = now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
    let loaded = tokio::task::spawn_blocking(move || {
        let mut bulk = SqliteBulk::open(&path, opts, stamp)?;
        let report = bulk.run(rx, progress);
        Ok::<_, StoreError>((bulk, report))
    })
    .await
    .map_err(|e| StoreError::Bulk(format!("the importer stopped: {e}")))??;
    let (bulk, report) = loaded;
    let report = report?;
    let verdict = verdict(parser).await;
    let ok = verdict.is_ok();
    tokio::task::spawn_blocking(move || bulk.finish(ok))
        .await
        .map_err(|e| StoreError::Bulk(format!("the importer stopped: {e}")))??;
    drop(writer);
    verdict?;
    Ok(report)
}

/// Rows per SQLite `INSERT`: one statement runs its per-statement work (opening a cursor on the
/// table and on each of its indexes, and closing them) once for all of them. 11 parameters a
/// row stays far below SQLite's limit of 32,766; 10 to 1,000 rows measured, 50 was fastest.
const ROWS_PER_INSERT: usize = 50;

/// `INSERT OR IGNORE INTO leads … VALUES (…), (…) …` for `rows` rows; a phone the client already
/// has (or an earlier row of the same statement has) is skipped, so the file's first row wins.
///
/// `OR IGNORE` rather than `ON CONFLICT (client_id, phone) DO NOTHING`: the one unique key of
/// `leads` besides its row id is (client_id, phone), so both skip the same rows, but with
/// `IGNORE` for every constraint (and foreign keys checked once per transaction instead of per
/// row, see [`SqliteBulk::begin`]) no row can abort the statement halfway, and SQLite keeps no
/// statement journal of the pages it changes: a fifth of the insert's time. The parser hands
/// over only rows that satisfy the other constraints (a phone, a known priority, the default
/// status); the `import_ignores_nothing_but_duplicates` test holds it to that.
fn insert_sql(rows: usize) -> String {
    let mut s = String::from(
        "INSERT OR IGNORE INTO leads (client_id, list_id, phone, name, email, priority, tags, \
         timezone, notes, created_at, updated_at) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            s.push(',');
        }
        s.push_str("(?,?,?,?,?,?,?,?,?,?,?)");
    }
    s
}

struct SqliteBulk {
    conn: rusqlite::Connection,
    opts: ImportOptions,
    stamp: String,
    lists: HashMap<String, i64>,
    in_tx: bool,
}

fn bulk_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Invalid(format!("a lead was refused: {e}"))
        }
        _ => StoreError::Bulk(e.to_string()),
    }
}

impl SqliteBulk {
    fn open(
        path: &std::path::Path,
        opts: ImportOptions,
        stamp: String,
    ) -> Result<Self, StoreError> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(bulk_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(bulk_err)?;
        // The store's own durability; a larger page cache (64 MB) for the indexes a large import
        // grows. Foreign keys are checked by `begin` for the whole transaction, not per row.
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536; \
             PRAGMA temp_store = MEMORY;",
        )
        .map_err(bulk_err)?;
        Ok(Self {
            conn,
            opts,
            stamp,
            lists: HashMap::new(),
            in_tx: false,
        })
    }

    fn run(
        &mut self,
        mut rx: mpsc::Receiver<Msg>,
        mut progress: impl FnMut(&ImportReport),
    ) -> Result<ImportReport, StoreError> {
        let mut report = ImportReport::default();
        let mut since_commit = 0u64;
        while let Some(msg) = rx.blocking_recv() {
            match msg {
                Msg::Bad(err) => report.bad(err, self.opts.max_reported_errors),
                Msg::Rows(rows) => {
                    let inserted = self.insert(&rows)?;
                    let n = rows.len() as u64;
                    report.rows(n, inserted);
                    since_commit += n;
                    if self
                        .opts
                        .commit_every
                        .is_some_and(|every| since_commit >= every)
                    {
                        self.end(true)?;
                        since_commit = 0;
                    }
                }
            }
            progress(&report);
        }
        Ok(report)
    }

    /// Open a write transaction and check, once for all its rows, the keys every row refers
    /// to: the client and the default list. Lists named in the file are looked up again (and
    /// created when missing) in each transaction. Nothing else can write until this
    /// transaction ends, so none of them can disappear before it commits.
    fn begin(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(bulk_err)?;
        self.in_tx = true;
        self.lists.clear();
        let client = self.opts.client_id;
        let found: Option<i64> = self
            .conn
            .query_row("SELECT id FROM clients WHERE id = ?1", [client], |r| {
                r.get(0)
            })
            .optional()
            .map_err(bulk_err)?;
        if found.is_none() {
            return Err(StoreError::Invalid(format!(
                "client {client} does not exist"
            )));
        }
        if let Some(list) = self.opts.list_id {
            let found: Option<i64> = self
                .conn
                .query_row(
                    "SELECT id FROM lists WHERE id = ?1 AND client_id = ?2",
                    [list, client],
                    |r| r.get(0),
                )
                .optional()
                .map_err(bulk_err)?;
            if found.is_none() {
                return Err(StoreError::Invalid(format!("list {list} does not exist")));
            }
        }
        Ok(())
    }

    fn insert(&mut self, rows: &[ParsedRow]) -> Result<u64, StoreError> {
        if !self.in_tx {
            self.begin()?;
        }
        let client = self.opts.client_id;
        for name in rows.iter().filter_map(|r| r.list.as_ref()) {
            if !self.lists.contains_key(name) {
                let id = ensure_list(&self.conn, client, name, &self.stamp)?;
                self.lists.insert(name.clone(), id);
            }
        }
        let mut inserted = 0u64;
        // The full-size statement is compiled once per chunk, a shorter tail when there is one.
        let mut full = self
            .conn
            .prepare(&insert_sql(ROWS_PER_INSERT))
            .map_err(bulk_err)?;
        for part in rows.chunks(ROWS_PER_INSERT) {
            let mut tail;
            let stmt = if part.len() == ROWS_PER_INSERT {
                &mut full
            } else {
                tail = self
                    .conn
                    .prepare(&insert_sql(part.len()))
                    .map_err(bulk_err)?;
                &mut tail
            };
            let mut at = 1;
            for r in part {
                let list = r
                    .list
                    .as_ref()
                    .and_then(|n| self.lists.get(n).copied())
                    .or(self.opts.list_id);
                let values: [&dyn rusqlite::ToSql; 11] = [
                    &client,
                    &list,
                    &r.phone,
                    &r.name,
                    &r.email,
                    &r.priority,
                    &r.tags,
                    &r.timezone,
                    &r.notes,
                    &self.stamp,
                    &self.stamp,
                ];
                for v in values {
                    stmt.raw_bind_parameter(at, v).map_err(bulk_err)?;
                    at += 1;
                }
            }
            inserted += stmt.raw_execute().map_err(bulk_err)? as u64;
        }
        Ok(inserted)
    }

    /// Commit (or roll back) the open transaction, if any.
    fn end(&mut self, commit: bool) -> Result<(), StoreError> {
        if self.in_tx {
            self.in_tx = false;
            self.conn
                .execute_batch(if commit { "COMMIT" } else { "ROLLBACK" })
                .map_err(bulk_err)?;
        }
        Ok(())
    }

    fn finish(mut self, commit: bool) -> Result<(), StoreError> {
        self.end(commit)
    }
}

/// The id of the list named `name`, created when missing (as [`lists::ensure`]).
fn ensure_list(
    conn: &rusqlite::Connection,
    client_id: i64,
    name: &str,
    stamp: &str,
) -> Result<i64, StoreError> {
    let name = name.trim();
    conn.execute(
        "INSERT INTO lists (client_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) \
         ON CONFLICT (client_id, name) DO NOTHING",
        rusqlite::params![client_id, name, stamp],
    )
    .map_err(bulk_err)?;
    conn.query_row(
        "SELECT id FROM lists WHERE client_id = ?1 AND name = ?2",
        rusqlite::params![client_id, name],
        |r| r.get(0),
    )
    .map_err(bulk_err)
}

/// Create the lists `rows` name that `lists_by_name` does not know yet, and learn their ids.
async fn ensure_lists(
    t: &mut Tx,
    client_id: i64,
    rows: &[ParsedRow],
    lists_by_name: &mut HashMap<String, i64>,
) -> Result<(), StoreError> {
    for name in rows.iter().filter_map(|r| r.list.as_ref()) {
        if !lists_by_name.contains_key(name) {
            let id = lists::ensure(t, client_id, name).await?;
            lists_by_name.insert(name.clone(), id);
        }
    }
    Ok(())
}

/// Each row's list: its `list` column's, else the default.
fn list_ids(
    rows: &[ParsedRow],
    default_list: Option<i64>,
    lists_by_name: &HashMap<String, i64>,
) -> Vec<Option<i64>> {
    rows.iter()
        .map(|r| {
            r.list
                .as_ref()
                .and_then(|n| lists_by_name.get(n).copied())
                .or(default_list)
        })
        .collect()
}

async fn insert_chunk(
    ex: &mut Tx,
    client_id: i64,
    rows: &[ParsedRow],
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
    rows: &[ParsedRow],
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
            &r.phone,
            r.name.as_deref().unwrap_or(""),
            r.email.as_deref().unwrap_or(""),
            r.priority,
            &r.tags,
            r.timezone.as_deref().unwrap_or(""),
            r.notes.as_deref().unwrap_or(""),
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
