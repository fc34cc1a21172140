//! One query API over two backends.
//!
//! SQL is written once with `$n` placeholders (both SQLite and PostgreSQL read them) and bound
//! from [`Arg`] values; rows decode into any type that derives `sqlx::FromRow` with fields both
//! backends can decode. Where the SQL itself differs (tag matching, `SKIP LOCKED`, `COPY`), the
//! caller asks [`Db::backend`] and writes each dialect explicitly.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::stream::{self, BoxStream, StreamExt};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Arguments, AssertSqlSafe, FromRow, PgConnection, PgPool, SqliteConnection, SqlitePool};

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A bound value. Each variant carries its SQL type so a NULL is typed on PostgreSQL too.
#[derive(Debug, Clone)]
pub enum Arg {
    I64(Option<i64>),
    F64(Option<f64>),
    Text(Option<String>),
    Bool(Option<bool>),
    Ts(Option<DateTime<Utc>>),
    Json(Option<serde_json::Value>),
}

/// What a write or a filter holding the NUL character is told: PostgreSQL stores no NUL in
/// text or `jsonb`, and SQLite is held to the same rule so both databases answer alike.
/// The page size of a new SQLite file. Larger than SQLite's default of 4 KiB: a bulk import
/// enters every lead in several B-trees (the row and four indexes), and 16 KiB pages take it
/// about 15% faster (BENCHMARKS.md, session 13).
pub const SQLITE_PAGE_SIZE: u32 = 16 * 1024;

pub const NUL_TEXT: &str = "text may not contain the NUL character (\\u0000)";

impl Arg {
    /// Whether this value is text, or JSON with a string or key, holding the NUL character.
    fn holds_nul(&self) -> bool {
        fn json(v: &serde_json::Value) -> bool {
            match v {
                serde_json::Value::String(s) => s.contains('\0'),
                serde_json::Value::Array(a) => a.iter().any(json),
                serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || json(v)),
                _ => false,
            }
        }
        match self {
            Arg::Text(Some(s)) => s.contains('\0'),
            Arg::Json(Some(v)) => json(v),
            _ => false,
        }
    }
}

macro_rules! arg_from {
    ($t:ty, $v:ident) => {
        impl From<$t> for Arg {
            fn from(x: $t) -> Self {
                Arg::$v(Some(x.into()))
            }
        }
        impl From<Option<$t>> for Arg {
            fn from(x: Option<$t>) -> Self {
                Arg::$v(x.map(Into::into))
            }
        }
    };
}
arg_from!(i64, I64);
arg_from!(i32, I64);
arg_from!(u32, I64);
arg_from!(f64, F64);
arg_from!(String, Text);
arg_from!(&str, Text);
arg_from!(bool, Bool);
arg_from!(DateTime<Utc>, Ts);
arg_from!(serde_json::Value, Json);

impl From<&String> for Arg {
    fn from(x: &String) -> Self {
        Arg::Text(Some(x.clone()))
    }
}
impl From<Option<&String>> for Arg {
    fn from(x: Option<&String>) -> Self {
        Arg::Text(x.cloned())
    }
}

/// A statement and its arguments.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    args: Vec<Arg>,
    /// Planned for its arguments every time instead of prepared once (see [`Sql::plan_each_time`]).
    one_shot: bool,
}

/// Start a statement; its text may already use `$1`, `$2`… matched by later [`Sql::arg`] calls.
pub fn sql(text: &str) -> Sql {
    Sql {
        text: text.to_string(),
        args: Vec::new(),
        one_shot: false,
    }
}

impl Sql {
    /// Bind the next positional argument (`$1`, `$2`, … in the text).
    pub fn arg(mut self, a: impl Into<Arg>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Append literal SQL (never user input).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Append a placeholder for `a` and bind it.
    pub fn push_arg(&mut self, a: impl Into<Arg>) -> &mut Self {
        self.args.push(a.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Append `(p1, p2, …)` for a list of values.
    pub fn push_list<A: Into<Arg>>(&mut self, items: impl IntoIterator<Item = A>) -> &mut Self {
        self.push("(");
        for (i, a) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push_arg(a);
        }
        self.push(")")
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The statement's plan instead of its rows: PostgreSQL's `EXPLAIN` (one text column) or
    /// SQLite's `EXPLAIN QUERY PLAN` (the plan's text in the fourth column). For plan tests.
    pub fn explained(mut self, backend: Backend) -> Self {
        self.text.insert_str(
            0,
            match backend {
                Backend::Postgres => "EXPLAIN ",
                Backend::Sqlite => "EXPLAIN QUERY PLAN ",
            },
        );
        self
    }

    /// Do not keep this statement prepared on the connection: PostgreSQL then plans it for the
    /// arguments and table sizes of each run. A prepared statement switches to one generic plan
    /// after five runs and keeps it for the connection's life; for a table that was nearly
    /// empty then and grew by the hundred thousand since (a fresh install's call log), that
    /// plan is a sequential scan of the whole table on every run.
    pub fn plan_each_time(&mut self) -> &mut Self {
        self.one_shot = true;
        self
    }

    /// Bind every argument for backend `DB`.
    fn arguments<DB: sqlx::Database>(&self) -> Result<DB::Arguments, StoreError>
    where
        Option<i64>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<f64>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<String>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<bool>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<DateTime<Utc>>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<sqlx::types::Json<serde_json::Value>>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        let mut a = DB::Arguments::default();
        for arg in &self.args {
            if arg.holds_nul() {
                return Err(StoreError::Invalid(NUL_TEXT.into()));
            }
            let r = match arg.clone() {
                Arg::I64(v) => a.add(v),
                Arg::F64(v) => a.add(v),
                Arg::Text(v) => a.add(v),
                Arg::Bool(v) => a.add(v),
                Arg::Ts(v) => a.add(v),
                Arg::Json(v) => a.add(v.map(sqlx::types::Json)),
            };
            r.map_err(|e| StoreError::Db(sqlx::Error::Encode(e)))?;
        }
        Ok(a)
    }

    /// SQLite form: `$n` placeholders become anonymous `?` with the arguments in order of
    /// appearance. sqlx resolves a named parameter by asking SQLite for its name, a scan of the
    /// statement's names per parameter, so binding costs grow with the square of the parameter
    /// count; anonymous parameters bind in linear time (a 1,000-row INSERT: 35× faster).
    fn sqlite_form(&self) -> Result<(String, SqliteArguments), StoreError> {
        let bytes = self.text.as_bytes();
        let mut text = String::with_capacity(self.text.len());
        let mut order = Vec::with_capacity(self.args.len());
        let (mut i, mut start, mut in_string) = (0, 0, false);
        while i < bytes.len() {
            match bytes[i] {
                b'\'' => in_string = !in_string,
                b'$' if !in_string && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                    let mut j = i + 1;
                    while j < bytes.len() && bytes[j].is_ascii_digit() {
                        j += 1;
                    }
                    let n: usize = self.text[i + 1..j].parse().unwrap_or(0);
                    if n == 0 || n > self.args.len() {
                        return Err(StoreError::Invalid(format!(
                            "placeholder ${n} has no argument"
                        )));
                    }
                    text.push_str(&self.text[start..i]);
                    text.push('?');
                    order.push(n - 1);
                    start = j;
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        text.push_str(&self.text[start..]);
        let reordered = Sql {
            text: String::new(),
            args: order.into_iter().map(|k| self.args[k].clone()).collect(),
            one_shot: false,
        };
        Ok((text, reordered.arguments::<sqlx::Sqlite>()?))
    }

    fn pg_args(&self) -> Result<PgArguments, StoreError> {
        self.arguments::<sqlx::Postgres>()
    }

    pub async fn fetch_all<T: Record>(self, ex: &mut impl AsExec) -> Result<Vec<T>, StoreError> {
        Ok(match ex.exec() {
            Exec::Sqlite(c) => {
                let (text, args) = self.sqlite_form()?;
                sqlx::query_as_with::<_, T, _>(AssertSqlSafe(text), args)
                    .persistent(!self.one_shot)
                    .fetch_all(c)
                    .await?
            }
            Exec::Pg(c) => {
                let args = self.pg_args()?;
                sqlx::query_as_with::<_, T, _>(AssertSqlSafe(self.text), args)
                    .persistent(!self.one_shot)
                    .fetch_all(c)
                    .await?
            }
        })
    }

    pub async fn fetch_optional<T: Record>(
        self,
        ex: &mut impl AsExec,
    ) -> Result<Option<T>, StoreError> {
        Ok(match ex.exec() {
            Exec::Sqlite(c) => {
                let (text, args) = self.sqlite_form()?;
                sqlx::query_as_with::<_, T, _>(AssertSqlSafe(text), args)
                    .persistent(!self.one_shot)
                    .fetch_optional(c)
                    .await?
            }
            Exec::Pg(c) => {
                let args = self.pg_args()?;
                sqlx::query_as_with::<_, T, _>(AssertSqlSafe(self.text), args)
                    .persistent(!self.one_shot)
                    .fetch_optional(c)
                    .await?
            }
        })
    }

    /// The rows one by one as the database sends them, for results too large to hold at once
    /// (exports). The connection is busy until the stream ends or is dropped.
    pub fn fetch<'e, T: Record>(
        self,
        ex: &'e mut impl AsExec,
    ) -> BoxStream<'e, Result<T, StoreError>> {
        let rows = match ex.exec() {
            Exec::Sqlite(c) => match self.sqlite_form() {
                Ok((text, args)) => sqlx::query_as_with::<_, T, _>(AssertSqlSafe(text), args)
                    .persistent(!self.one_shot)
                    .fetch(c),
                Err(e) => return stream::once(async move { Err(e) }).boxed(),
            },
            Exec::Pg(c) => match self.pg_args() {
                Ok(args) => sqlx::query_as_with::<_, T, _>(AssertSqlSafe(self.text), args)
                    .persistent(!self.one_shot)
                    .fetch(c),
                Err(e) => return stream::once(async move { Err(e) }).boxed(),
            },
        };
        rows.map(|r| r.map_err(StoreError::from)).boxed()
    }

    pub async fn fetch_one<T: Record>(self, ex: &mut impl AsExec) -> Result<T, StoreError> {
        self.fetch_optional(ex).await?.ok_or(StoreError::NotFound)
    }

    /// Run a statement; returns the number of rows it changed.
    pub async fn execute(self, ex: &mut impl AsExec) -> Result<u64, StoreError> {
        Ok(match ex.exec() {
            Exec::Sqlite(c) => {
                let (text, args) = self.sqlite_form()?;
                sqlx::query_with(AssertSqlSafe(text), args)
                    .persistent(!self.one_shot)
                    .execute(c)
                    .await?
                    .rows_affected()
            }
            Exec::Pg(c) => {
                let args = self.pg_args()?;
                sqlx::query_with(AssertSqlSafe(self.text), args)
                    .persistent(!self.one_shot)
                    .execute(c)
                    .await?
                    .rows_affected()
            }
        })
    }
}

/// A row type both backends can decode.
pub trait Record:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static
{
}
impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static
{
}

/// Check a pooled connection before handing it out only when it sat idle for a while (a
/// database restarted meanwhile). sqlx's default pings on every acquire: one more round trip
/// for each statement outside a transaction and for every transaction.
async fn ping_if_idle<C: sqlx::Connection>(
    c: &mut C,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> Result<bool, sqlx::Error> {
    if meta.idle_for >= Duration::from_secs(10) {
        c.ping().await?;
    }
    Ok(true)
}

/// A hash of SQLite's planner statistics as the file holds them now.
async fn stats_fingerprint(c: &mut SqliteConnection) -> Result<u64, StoreError> {
    let (kept,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'")
            .fetch_one(&mut *c)
            .await?;
    let rows: Vec<(String, Option<String>, String)> = if kept == 0 {
        Vec::new()
    } else {
        sqlx::query_as("SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY tbl, idx")
            .fetch_all(&mut *c)
            .await?
    };
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&rows, &mut h);
    Ok(std::hash::Hasher::finish(&h))
}

/// A borrowed connection of either backend.
pub enum Exec<'a> {
    Sqlite(&'a mut SqliteConnection),
    Pg(&'a mut PgConnection),
}

pub trait AsExec: Send {
    fn exec(&mut self) -> Exec<'_>;

    /// Which database this connection or transaction is on.
    fn backend(&mut self) -> Backend {
        match self.exec() {
            Exec::Sqlite(_) => Backend::Sqlite,
            Exec::Pg(_) => Backend::Postgres,
        }
    }
}

/// A connection taken from the pool.
pub enum Conn {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    Pg(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl AsExec for Conn {
    fn exec(&mut self) -> Exec<'_> {
        match self {
            Conn::Sqlite(c) => Exec::Sqlite(c),
            Conn::Pg(c) => Exec::Pg(c),
        }
    }
}

/// A transaction of either backend; dropped without [`Tx::commit`] it rolls back.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Pg(t) => t.commit().await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Pg(_) => Backend::Postgres,
        }
    }
}

impl AsExec for Tx {
    fn exec(&mut self) -> Exec<'_> {
        match self {
            Tx::Sqlite(t) => Exec::Sqlite(t),
            Tx::Pg(t) => Exec::Pg(t),
        }
    }
}

#[derive(Debug)]
pub(crate) enum Pools {
    /// SQLite allows one writer at a time: writes go through a one-connection pool so they
    /// queue in-process instead of spinning on `SQLITE_BUSY`; reads use the other pool (WAL).
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
        /// The database file, for the bulk importer's own connection.
        path: std::path::PathBuf,
        /// When [`Db::optimize`] last refreshed the planner's statistics.
        stats: Arc<StatsRefreshed>,
    },
    Pg(PgPool),
}

/// When this process last refreshed SQLite's planner statistics. A SQLite connection reads
/// them once, with the schema, and keeps its prepared statements' plans: an `ANALYZE` on
/// another connection does not reach it. So the read pool closes a connection opened before
/// the last refresh instead of handing it out, and opens a new one that plans with them.
#[derive(Debug)]
pub(crate) struct StatsRefreshed {
    since: Instant,
    /// Nanoseconds from `since` to the last refresh.
    at: AtomicU64,
    /// A hash of the statistics in the file when [`Db::follow_stats`] last read them.
    seen: std::sync::Mutex<Option<u64>>,
}

impl StatsRefreshed {
    fn new() -> Self {
        Self {
            since: Instant::now(),
            at: AtomicU64::new(0),
            seen: std::sync::Mutex::new(None),
        }
    }

    /// The file's statistics now hash to `fingerprint`: a refresh if they hashed otherwise
    /// (then `true`).
    fn follow(&self, fingerprint: u64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let changed = seen.is_some_and(|s| s != fingerprint);
        if changed {
            self.mark();
        }
        *seen = Some(fingerprint);
        changed
    }

    fn mark(&self) {
        let at = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.at.store(at, Ordering::Release);
    }

    /// Whether a connection `age` old was opened before the last refresh ended.
    fn predates(&self, age: Duration) -> bool {
        let refreshed = Duration::from_nanos(self.at.load(Ordering::Acquire));
        age > self.since.elapsed().saturating_sub(refreshed)
    }
}

/// One connection pool's figures (for `GET /metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    pub name: &'static str,
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

/// The database: cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pub(crate) pools: Arc<Pools>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Extra connection settings for tests and tools.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// PostgreSQL schema to use as `search_path` (tests isolate themselves this way).
    pub pg_schema: Option<String>,
    pub max_connections: Option<u32>,
    /// SQLite: refuse a file that does not exist rather than create it.
    pub must_exist: bool,
}

impl Db {
    /// Open `url` (`sqlite://path`, `sqlite::memory:` is refused, `postgres://…`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, ConnectOptions::default()).await
    }

    pub async fn connect_with(url: &str, opts: ConnectOptions) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // No JIT compilation: every query here is short, and a cost misestimate (a table
            // without statistics yet) would make PostgreSQL spend tens of milliseconds compiling
            // a query that runs in one.
            let mut o = PgConnectOptions::from_str(url)?.options([("jit", "off")]);
            if let Some(schema) = &opts.pg_schema {
                o = o.options([("search_path", schema.as_str())]);
            }
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections.unwrap_or(16))
                .acquire_timeout(Duration::from_secs(10))
                .test_before_acquire(false)
                .before_acquire(|c, meta| Box::pin(ping_if_idle(c, meta)))
                .connect_with(o)
                .await?;
            Ok(Self {
                pools: Arc::new(Pools::Pg(pool)),
            })
        } else if url.starts_with("sqlite:") {
            if url.contains(":memory:") {
                return Err(StoreError::Invalid(
                    "an in-memory SQLite database cannot be shared between connections; use a file"
                        .into(),
                ));
            }
            let o = SqliteConnectOptions::from_str(url)?;
            if opts.must_exist && !o.get_filename().exists() {
                return Err(StoreError::Invalid(format!(
                    "{} does not exist",
                    o.get_filename().display()
                )));
            }
            let o = o
                .create_if_missing(true)
                // Only a new file takes it (before its first table; WAL files keep theirs).
                .page_size(SQLITE_PAGE_SIZE)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("cache_size", "-16000");
            let path = o.get_filename().to_path_buf();
            // Another process may be creating the same file right now (switching it to WAL).
            let _setup = sqlite_setup_lock(&path).await?;
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .before_acquire(|c, meta| Box::pin(ping_if_idle(c, meta)))
                .connect_with(o.clone())
                .await?;
            // Opened on first use, and never handed out once older than the planner's
            // statistics (see `StatsRefreshed`). A read connection that planned without them
            // took 0.3 s for a request the others answered in 3 ms (BENCHMARKS.md).
            let stats = Arc::new(StatsRefreshed::new());
            let refreshed = stats.clone();
            let read = SqlitePoolOptions::new()
                .max_connections(opts.max_connections.unwrap_or(8))
                .test_before_acquire(false)
                .before_acquire(move |c, meta| {
                    let stale = refreshed.predates(meta.age);
                    Box::pin(async move {
                        if stale {
                            return Ok(false);
                        }
                        ping_if_idle(c, meta).await
                    })
                })
                .connect_lazy_with(o.read_only(true));
            Ok(Self {
                pools: Arc::new(Pools::Sqlite {
                    read,
                    write,
                    path,
                    stats,
                }),
            })
        } else {
            Err(StoreError::Invalid(format!(
                "database URL must start with sqlite:// or postgres://, got '{}'",
                url.split(':').next().unwrap_or("")
            )))
        }
    }

    /// Write a consistent copy of the database into `dest`, a file that must not exist yet,
    /// while others may go on writing: SQLite's `VACUUM INTO` (a read transaction, so it sees
    /// one moment and holds no lock writers wait for). PostgreSQL has `pg_dump` for this.
    pub async fn backup_into(&self, dest: &std::path::Path) -> Result<(), StoreError> {
        match &*self.pools {
            Pools::Sqlite { read, .. } => {
                if dest.exists() {
                    return Err(StoreError::Invalid(format!(
                        "{} exists already: back up into a new file",
                        dest.display()
                    )));
                }
                let to = dest.to_str().ok_or_else(|| {
                    StoreError::Invalid("the backup's path is not UTF-8 text".into())
                })?;
                let mut c = read.acquire().await?;
                sqlx::query("VACUUM INTO ?")
                    .bind(to)
                    .execute(&mut *c)
                    .await?;
                Ok(())
            }
            Pools::Pg(_) => Err(StoreError::Invalid(
                "a PostgreSQL database is backed up with pg_dump (or the server's own backups); \
                 `switchboard backup` copies SQLite files"
                    .into(),
            )),
        }
    }

    pub fn backend(&self) -> Backend {
        match &*self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Pg(_) => Backend::Postgres,
        }
    }

    /// Apply this backend's migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &*self.pools {
            Pools::Sqlite { write, path, .. } => {
                let _setup = sqlite_setup_lock(path).await?;
                SQLITE_MIGRATIONS.run(write).await?
            }
            // sqlx holds an advisory lock while it migrates PostgreSQL.
            Pools::Pg(p) => PG_MIGRATIONS.run(p).await?,
        }
        self.optimize().await
    }

    /// Refresh the query planner's statistics where they are stale. SQLite keeps none unless
    /// asked, and without them picks a scan of a whole client's calls for a search that two
    /// index lookups answer (0.4 s against 2 ms over a million calls). PostgreSQL's autovacuum
    /// does this by itself.
    pub async fn optimize(&self) -> Result<(), StoreError> {
        if let Pools::Sqlite { write, stats, .. } = &*self.pools {
            let mut c = write.acquire().await?;
            sqlx::query("PRAGMA analysis_limit = 1000")
                .execute(&mut *c)
                .await?;
            sqlx::query("PRAGMA optimize = 0x10002")
                .execute(&mut *c)
                .await?;
            stats.mark();
            let now = stats_fingerprint(&mut c).await?;
            *stats.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
        }
        Ok(())
    }

    /// SQLite: notice statistics another process wrote to the file (`switchboard import`
    /// refreshes them after a large import) and replace the read connections opened before
    /// them, as after [`Db::optimize`]; the write connection, which lives as long as the
    /// process, reads them again in place (`ANALYZE sqlite_schema`, which SQLite documents for
    /// this; it takes the write lock for a moment). Cheap (`sqlite_stat1` has a row per
    /// index); the server calls it every minute. PostgreSQL: nothing (its statistics are the
    /// server's).
    pub async fn follow_stats(&self) -> Result<(), StoreError> {
        let Pools::Sqlite {
            read, write, stats, ..
        } = &*self.pools
        else {
            return Ok(());
        };
        let now = stats_fingerprint(&mut *read.acquire().await?).await?;
        if stats.follow(now) {
            sqlx::query("ANALYZE sqlite_schema")
                .execute(&mut *write.acquire().await?)
                .await?;
        }
        Ok(())
    }

    /// PostgreSQL: refresh the planner's statistics of `tables` (ones a campaign or an import grows). Autovacuum
    /// visits each database about once a minute and waits for a tenth of a table to change, so
    /// a call log that grows from nothing is planned as if empty meanwhile (a page of calls read
    /// every row and sorted them: 54 ms against 1 ms). SQLite: nothing (see [`Db::optimize`]).
    pub async fn refresh_stats(&self, tables: &[&str]) -> Result<(), StoreError> {
        if let Pools::Pg(p) = &*self.pools {
            for t in tables {
                // Table names come from the code, never from input.
                sqlx::query(AssertSqlSafe(format!("ANALYZE {t}")))
                    .execute(p)
                    .await?;
            }
        }
        Ok(())
    }

    /// A connection for reads.
    pub async fn read(&self) -> Result<Conn, StoreError> {
        Ok(match &*self.pools {
            Pools::Sqlite { read, .. } => Conn::Sqlite(read.acquire().await?),
            Pools::Pg(p) => Conn::Pg(p.acquire().await?),
        })
    }

    /// A connection for writes outside a transaction.
    pub async fn write(&self) -> Result<Conn, StoreError> {
        Ok(match &*self.pools {
            Pools::Sqlite { write, .. } => Conn::Sqlite(write.acquire().await?),
            Pools::Pg(p) => Conn::Pg(p.acquire().await?),
        })
    }

    /// Each connection pool: its name, open and idle connections, and its limit.
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        fn of<D: sqlx::Database>(name: &'static str, p: &sqlx::Pool<D>) -> PoolStats {
            PoolStats {
                name,
                open: p.size(),
                idle: p.num_idle() as u32,
                max: p.options().get_max_connections(),
            }
        }
        match &*self.pools {
            Pools::Sqlite { read, write, .. } => vec![of("read", read), of("write", write)],
            Pools::Pg(p) => vec![of("main", p)],
        }
    }

    /// The SQLite database file (`None` on PostgreSQL).
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match &*self.pools {
            Pools::Sqlite { path, .. } => Some(path),
            Pools::Pg(_) => None,
        }
    }

    /// Begin a write transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match &*self.pools {
            Pools::Sqlite { write, .. } => Tx::Sqlite(write.begin().await?),
            Pools::Pg(p) => Tx::Pg(p.begin().await?),
        })
    }

    pub async fn fetch_all<T: Record>(&self, q: Sql) -> Result<Vec<T>, StoreError> {
        q.fetch_all(&mut self.read().await?).await
    }

    pub async fn fetch_optional<T: Record>(&self, q: Sql) -> Result<Option<T>, StoreError> {
        q.fetch_optional(&mut self.read().await?).await
    }

    pub async fn fetch_one<T: Record>(&self, q: Sql) -> Result<T, StoreError> {
        q.fetch_one(&mut self.read().await?).await
    }

    pub async fn execute(&self, q: Sql) -> Result<u64, StoreError> {
        q.execute(&mut self.write().await?).await
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        self.fetch_one::<(i64,)>(sql("SELECT CAST(1 AS BIGINT)"))
            .await
            .is_ok()
    }

    pub async fn close(&self) {
        match &*self.pools {
            Pools::Sqlite { read, write, .. } => {
                read.close().await;
                write.close().await;
            }
            Pools::Pg(p) => p.close().await,
        }
    }
}

/// An exclusive lock on `<file>-setup-lock` beside a SQLite database, held while this process
/// opens the file and while it migrates it. sqlx's SQLite migrator takes no lock of its own, so
/// two processes (or instances) starting together on a new file would both apply a migration
/// and all but one fail with "table … already exists"; and switching a new file to WAL while
/// another connection creates it fails with "database is locked". The lock is an `flock` on a
/// file of its own: never on the database file, whose POSIX locks SQLite's connections in this
/// process would lose when any other descriptor of it is closed. The file stays (removing it
/// would race with a process about to lock it); it is empty.
async fn sqlite_setup_lock(db_path: &std::path::Path) -> Result<std::fs::File, StoreError> {
    let mut name = db_path.as_os_str().to_owned();
    name.push("-setup-lock");
    let lock_path = std::path::PathBuf::from(name);
    tokio::task::spawn_blocking(move || {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        f.lock()?;
        Ok::<_, std::io::Error>(f)
    })
    .await
    .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    .map_err(|e| StoreError::Db(sqlx::Error::Io(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_form_expands_reused_placeholders_in_order() {
        let q = sql("SELECT $2, '$1 stays', $1, $2, $10")
            .arg(1i64)
            .arg("two")
            .arg(3i64)
            .arg(4i64)
            .arg(5i64)
            .arg(6i64)
            .arg(7i64)
            .arg(8i64)
            .arg(9i64)
            .arg(10i64);
        let (text, _) = q.sqlite_form().unwrap();
        assert_eq!(text, "SELECT ?, '$1 stays', ?, ?, ?");
        assert!(sql("SELECT $3").arg(1i64).sqlite_form().is_err());
    }
}
