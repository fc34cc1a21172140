//! A prepared SQLite statement that binds text without copying it.
//!
//! rusqlite binds every string with `SQLITE_TRANSIENT`, so SQLite copies it into memory of its
//! own (a `malloc`, a copy and a `free` per value). The bulk importer binds five to eight
//! strings a row, on the thread that is the import's critical path, and each string outlives
//! the statement's step anyway. This statement binds them with `SQLITE_STATIC` instead, which
//! is sound only while the strings stay alive and unmoved until SQLite is done with them:
//! [`BorrowingInsert::run`] binds, steps, resets and clears the bindings in one call, so the
//! borrow of the values covers every moment SQLite may read them.

use std::ffi::{CStr, c_char, c_int};
use std::ptr;

use rusqlite::ffi;

use crate::StoreError;

/// One value to bind.
#[derive(Debug, Clone, Copy)]
pub(super) enum Cell<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
}

/// A prepared statement of the connection it was made on; finalized when dropped.
pub(super) struct BorrowingInsert<'c> {
    db: *mut ffi::sqlite3,
    stmt: *mut ffi::sqlite3_stmt,
    params: c_int,
    _conn: std::marker::PhantomData<&'c rusqlite::Connection>,
}

impl<'c> BorrowingInsert<'c> {
    pub(super) fn prepare(conn: &'c rusqlite::Connection, sql: &str) -> Result<Self, StoreError> {
        // SAFETY: the handle is the live connection's, which `'c` keeps alive and which this
        // statement only uses from the thread that holds `conn`.
        let db = unsafe { conn.handle() };
        let len = c_int::try_from(sql.len())
            .map_err(|_| StoreError::Bulk("statement too long".into()))?;
        let mut stmt = ptr::null_mut();
        // SAFETY: `sql` is valid for `len` bytes; SQLite writes the statement into `stmt`.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                db,
                sql.as_ptr().cast::<c_char>(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT as _,
                &mut stmt,
                ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK || stmt.is_null() {
            return Err(error(db, rc));
        }
        // SAFETY: `stmt` was just prepared.
        let params = unsafe { ffi::sqlite3_bind_parameter_count(stmt) };
        Ok(Self {
            db,
            stmt,
            params,
            _conn: std::marker::PhantomData,
        })
    }

    /// Bind `shared` as the first parameters and each of `rows`' cells after them, in order,
    /// then run the statement once; the number of rows it changed. Every parameter must get a
    /// value.
    pub(super) fn run<'v, const N: usize>(
        &mut self,
        shared: &[Cell<'v>],
        rows: impl Iterator<Item = [Cell<'v>; N]>,
    ) -> Result<u64, StoreError> {
        let mut at: c_int = 0;
        let bound = (|| {
            for cell in shared.iter().copied().chain(rows.flatten()) {
                at += 1;
                if at > self.params {
                    return Err(StoreError::Bulk(format!(
                        "more values than the statement's {} parameters",
                        self.params
                    )));
                }
                self.bind(at, cell)?;
            }
            if at != self.params {
                return Err(StoreError::Bulk(format!(
                    "{at} values for the statement's {} parameters",
                    self.params
                )));
            }
            // SAFETY: every parameter is bound to a value `'v` keeps alive through this call.
            let rc = unsafe { ffi::sqlite3_step(self.stmt) };
            if rc != ffi::SQLITE_DONE {
                return Err(error(self.db, rc));
            }
            // SAFETY: the connection is open; the count is the last statement's, this one's.
            Ok(unsafe { ffi::sqlite3_changes64(self.db) } as u64)
        })();
        // SAFETY: the statement is ours; afterwards it refers to none of the borrowed values.
        unsafe {
            ffi::sqlite3_reset(self.stmt);
            ffi::sqlite3_clear_bindings(self.stmt);
        }
        bound
    }

    fn bind(&mut self, at: c_int, cell: Cell<'_>) -> Result<(), StoreError> {
        // SAFETY: `at` is within the statement's parameters; text is bound for as long as the
        // caller (`run`) borrows it, and is never read after `run` clears the bindings.
        let rc = unsafe {
            match cell {
                Cell::Int(Some(v)) => ffi::sqlite3_bind_int64(self.stmt, at, v),
                Cell::Text(Some(s)) => {
                    let len = c_int::try_from(s.len())
                        .map_err(|_| StoreError::Bulk("a value is too long".into()))?;
                    ffi::sqlite3_bind_text(
                        self.stmt,
                        at,
                        s.as_ptr().cast::<c_char>(),
                        len,
                        ffi::SQLITE_STATIC(),
                    )
                }
                Cell::Int(None) | Cell::Text(None) => ffi::sqlite3_bind_null(self.stmt, at),
            }
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(self.db, rc));
        }
        Ok(())
    }
}

impl Drop for BorrowingInsert<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement is ours and is not used again.
        unsafe {
            ffi::sqlite3_finalize(self.stmt);
        }
    }
}

/// SQLite's error for `rc` on `db`, as the importer reports errors (see `bulk_err`).
fn error(db: *mut ffi::sqlite3, rc: c_int) -> StoreError {
    // SAFETY: `db` is an open connection; the message is copied before any other call.
    let message = unsafe {
        let m = ffi::sqlite3_errmsg(db);
        if m.is_null() {
            String::new()
        } else {
            CStr::from_ptr(m).to_string_lossy().into_owned()
        }
    };
    super::sqlite::bulk_err(rusqlite::Error::SqliteFailure(
        ffi::Error::new(rc),
        Some(message),
    ))
}
