//! SQLite's side of the import: the rows go in through a connection of the importer's own.

use std::collections::HashMap;

use rusqlite::OptionalExtension;
use tokio::sync::mpsc;

use super::borrowing::{BorrowingInsert, Cell};
use super::parse::{Msg, Recycle, Rows};
use super::{ImportError, ImportOptions, ImportReport, Parser, verdict};
use crate::{Db, StoreError, lists, now};

/// SQLite: 50-row `INSERT OR IGNORE` statements (see [`insert_sql`]) on a connection of the
/// importer's own, on a blocking thread, while the store's writer connection is held so no
/// other write of this process waits on SQLite's lock instead of in the pool's queue. Going
/// through the async driver cost more than SQLite's own work (every batch's arguments copied
/// twice and a message to the driver's worker thread per statement); this runs at the speed of
/// SQLite's B-trees.
pub(super) async fn import_sqlite(
    db: &Db,
    path: std::path::PathBuf,
    rx: mpsc::Receiver<Msg>,
    recycle: Recycle,
    opts: ImportOptions,
    progress: impl FnMut(&ImportReport) + Send + 'static,
    parser: Parser,
) -> Result<ImportReport, ImportError> {
    let writer = db.write().await?;
    let stamp = now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
    let loaded = tokio::task::spawn_blocking(move || {
        let mut bulk = SqliteBulk::open(&path, opts, stamp)?;
        let report = bulk.run(rx, &recycle, progress);
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
        "INSERT OR IGNORE INTO leads (client_id, created_at, updated_at, list_id, phone, name, \
         email, priority, tags, timezone, notes) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            s.push(',');
        }
        // The client and the time are the statement's first two parameters, bound once.
        s.push_str("(?1,?2,?2,?,?,?,?,?,?,?,?)");
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

pub(super) fn bulk_err(e: rusqlite::Error) -> StoreError {
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
        recycle: &Recycle,
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
                    recycle.give_back(rows);
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
                    "SELECT id FROM lists WHERE id = ?1 AND client_id = ?2 AND deleted_at IS NULL",
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

    fn insert(&mut self, rows: &Rows) -> Result<u64, StoreError> {
        if !self.in_tx {
            self.begin()?;
        }
        let client = self.opts.client_id;
        for name in rows.iter().filter_map(|r| r.list) {
            if !self.lists.contains_key(name) {
                let id = ensure_list(&self.conn, client, name, &self.stamp)?;
                self.lists.insert(name.to_string(), id);
            }
        }
        let mut inserted = 0u64;
        // The full-size statement is compiled once per chunk, a shorter tail when there is one.
        let mut full = BorrowingInsert::prepare(&self.conn, &insert_sql(ROWS_PER_INSERT))?;
        let shared = [Cell::Int(Some(client)), Cell::Text(Some(&self.stamp))];
        let mut rows = rows.iter().peekable();
        while rows.peek().is_some() {
            let part: Vec<_> = rows.by_ref().take(ROWS_PER_INSERT).collect();
            let mut tail;
            let stmt = if part.len() == ROWS_PER_INSERT {
                &mut full
            } else {
                tail = BorrowingInsert::prepare(&self.conn, &insert_sql(part.len()))?;
                &mut tail
            };
            let values = part.iter().map(|r| {
                let list = r
                    .list
                    .and_then(|n| self.lists.get(n).copied())
                    .or(self.opts.list_id);
                [
                    Cell::Int(list),
                    Cell::Text(Some(r.phone)),
                    Cell::Text(r.name),
                    Cell::Text(r.email),
                    Cell::Text(Some(r.priority)),
                    Cell::Text(Some(r.tags)),
                    Cell::Text(r.timezone),
                    Cell::Text(r.notes),
                ]
            });
            inserted += stmt.run(&shared, values)?;
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
    let (id, deleting): (i64, bool) = conn
        .query_row(
            "SELECT id, deleted_at IS NOT NULL FROM lists WHERE client_id = ?1 AND name = ?2",
            rusqlite::params![client_id, name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(bulk_err)?;
    if deleting {
        return Err(lists::being_deleted(name));
    }
    Ok(id)
}
