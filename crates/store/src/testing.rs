//! Fresh databases for tests: a SQLite file in a temp dir, or a PostgreSQL schema of its own
//! (so tests run in parallel on one server).
//!
//! PostgreSQL comes from `SWITCHBOARD_TEST_PG_URL`. Without it, PostgreSQL tests print why they
//! skip; with `SWITCHBOARD_TEST_REQUIRE_PG=1` (CI) a missing URL fails them instead.

use rand::RngCore;

use crate::{ConnectOptions, Db, sql};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

/// A database for one test. Keep it alive as long as the test uses the database.
pub struct TestDb {
    pub db: Db,
    /// A URL another process (the binary under test) can open to reach the same database.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub fn pg_url() -> Option<String> {
    match std::env::var("SWITCHBOARD_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var("SWITCHBOARD_TEST_REQUIRE_PG").is_ok_and(|v| v == "1") {
                panic!("SWITCHBOARD_TEST_REQUIRE_PG=1 but SWITCHBOARD_TEST_PG_URL is not set");
            }
            eprintln!(
                "SKIPPED: PostgreSQL test (set SWITCHBOARD_TEST_PG_URL=postgres://… to run it)"
            );
            None
        }
    }
}

/// A fresh, migrated database; `None` when the backend is not available (reason printed).
pub async fn fresh_db(backend: TestBackend) -> Option<TestDb> {
    match backend {
        TestBackend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("test.db").display());
            let db = Db::connect(&url).await.expect("open sqlite");
            db.migrate().await.expect("migrate sqlite");
            Some(TestDb {
                db,
                url,
                _dir: Some(dir),
            })
        }
        TestBackend::Postgres => {
            let url = pg_url()?;
            let mut b = [0u8; 8];
            rand::rng().fill_bytes(&mut b);
            let schema = format!("t_{}", hex::encode(b));
            let admin = Db::connect_with(
                &url,
                ConnectOptions {
                    max_connections: Some(1),
                    ..Default::default()
                },
            )
            .await
            .expect("connect to PostgreSQL (SWITCHBOARD_TEST_PG_URL)");
            admin
                .execute(sql(&format!("CREATE SCHEMA {schema}")))
                .await
                .expect("create schema");
            admin.close().await;
            let db = Db::connect_with(
                &url,
                ConnectOptions {
                    pg_schema: Some(schema.clone()),
                    max_connections: Some(4),
                    ..Default::default()
                },
            )
            .await
            .expect("connect to the test schema");
            db.migrate().await.expect("migrate postgres");
            let sep = if url.contains('?') { '&' } else { '?' };
            let url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
            Some(TestDb {
                db,
                url,
                _dir: None,
            })
        }
    }
}
