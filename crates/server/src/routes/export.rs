//! Tables as downloadable files (CSV or XLSX), of any number of rows in flat memory: rows come
//! from one query through a channel into a temporary file, at the database's pace whatever the
//! client's. CSV goes out from the file as it grows; XLSX once it is whole (a zip archive is
//! only whole at its end).

use std::io::{Read, Seek, SeekFrom};

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, BoxStream, StreamExt};
use std::sync::Arc;
use switchboard_store::StoreError;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::error::{ApiError, ApiResult};

/// One table row per message, in order, then `None`; or an error. A channel closed before
/// `None` is a table cut short.
pub type Rows<const N: usize> = mpsc::Receiver<Row<N>>;
pub type Row<const N: usize> = Result<Option<[String; N]>, StoreError>;

/// The next row, `None` at the end of the table, or why there is none.
fn next_row<const N: usize>(got: Option<Row<N>>) -> Result<Option<[String; N]>, String> {
    match got {
        Some(r) => r.map_err(|e| e.to_string()),
        None => Err("the table's query stopped before its end".into()),
    }
}

/// Rows queued between the query and the file.
const AHEAD: usize = 1024;
/// A CSV answer is sent in pieces of about this many bytes.
const CSV_PIECE: usize = 64 * 1024;
/// Data rows per XLSX sheet: the format's 1,048,576 rows, less the header. More rows go on to
/// another sheet.
const XLSX_SHEET_ROWS: u32 = 1_048_575;

/// Exports one process runs at once; more wait their turn. Each holds a database connection
/// for as long as its query runs (seconds for a million leads; the download goes on from a
/// temporary file), and SQLite's read pool has 8: two leave the rest to everyone else.
pub const AT_ONCE: usize = 2;

/// Downloads one process serves at once; more wait before their query. Each holds a temporary
/// file of its export's size until the client has it all, goes away, or takes nothing for
/// [`DOWNLOAD_IDLE`], so this bounds the disk that slow or stalled downloads can take.
pub const DOWNLOADS_AT_ONCE: usize = 16;

/// How long a download may take no data before it is stopped: its place among
/// [`DOWNLOADS_AT_ONCE`] and its temporary file are let go, and its answer is cut off.
const DOWNLOAD_IDLE: std::time::Duration = std::time::Duration::from_secs(120);

/// An export's turn: `query` for the task that runs the query, `download` for the answer
/// ([`table_file`] keeps it until the download ends).
pub struct Turn {
    pub query: OwnedSemaphorePermit,
    pub download: OwnedSemaphorePermit,
}

/// Wait for an export's turn: a download's place, then a query's.
pub async fn turn(st: &crate::state::AppState) -> ApiResult<Turn> {
    let take = |s: &Arc<Semaphore>| s.clone().acquire_owned();
    let download = take(&st.downloads)
        .await
        .map_err(|_| ApiError::internal())?;
    let query = take(&st.exports).await.map_err(|_| ApiError::internal())?;
    Ok(Turn { query, download })
}

/// A channel for a table's rows: `feed` them from a task that owns the query's connection,
/// answer with [`table_file`] on the other end.
pub fn rows<const N: usize>() -> (mpsc::Sender<Row<N>>, Rows<N>) {
    mpsc::channel(AHEAD)
}

/// Send each of `found`'s records as a table row, until it ends, fails, or nobody reads: the
/// client went away, or the file's writer has taken nothing for [`STALLED`] (a disk that
/// blocks: the query holds a connection and, on SQLite, a read snapshot, which nothing may
/// keep forever).
pub async fn feed<T, const N: usize>(
    mut found: BoxStream<'_, Result<T, StoreError>>,
    cells: impl Fn(&T) -> [String; N],
    to: mpsc::Sender<Row<N>>,
) {
    while let Some(r) = found.next().await {
        let failed = r.is_err();
        if to
            .send_timeout(r.map(|t| Some(cells(&t))), STALLED)
            .await
            .is_err()
            || failed
        {
            return;
        }
    }
    let _ = to.send_timeout(Ok(None), STALLED).await;
}

/// How long the file being written may take no rows before its query is stopped.
const STALLED: std::time::Duration = std::time::Duration::from_secs(120);

/// A table as a downloadable CSV or XLSX file (`name-<time>.<format>`). Cells that are whole
/// numbers are written as numbers in XLSX. A query that fails before its first row is an
/// error answer; one that fails later cuts the CSV answer off (the client sees an incomplete
/// transfer, never a short file that looks whole).
pub async fn table_file<const N: usize>(
    format: &str,
    name: &'static str,
    columns: &'static [&'static str; N],
    mut rows: Rows<N>,
    download: OwnedSemaphorePermit,
) -> ApiResult<Response> {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let failed = |e: String| {
        tracing::error!(error = %e, "export failed");
        ApiError::internal()
    };
    let (content_type, body, length) = if format == "csv" {
        let first = next_row(rows.recv().await).map_err(failed)?;
        let spooled = csv_spooled(columns, first, rows).map_err(|e| failed(e.to_string()))?;
        (
            "text/csv; charset=utf-8",
            Body::from_stream(held_while_read(spooled, download, DOWNLOAD_IDLE)),
            None,
        )
    } else {
        let file = tokio::task::spawn_blocking(move || xlsx(name, columns, rows, XLSX_SHEET_ROWS))
            .await
            .map_err(|e| failed(e.to_string()))?
            .map_err(failed)?;
        let length = file.metadata().map(|m| m.len()).ok();
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Body::from_stream(held_while_read(file_pieces(file), download, DOWNLOAD_IDLE)),
            length,
        )
    };
    let mut answer = (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}-{stamp}.{format}\""),
            ),
        ],
        body,
    )
        .into_response();
    if let Some(n) = length {
        answer
            .headers_mut()
            .insert(header::CONTENT_LENGTH, n.into());
    }
    Ok(answer)
}

/// How much of a spooled CSV file is written, and whether it is whole.
#[derive(Clone, Debug)]
enum Spooled {
    Growing(u64),
    Whole(u64),
    Failed(u64, String),
}

type Piece = Result<Bytes, std::io::Error>;

/// `pieces` as a download's answer, which keeps `place` (a download's place) until the client
/// has every piece or goes away. A client that takes nothing for `idle` (it stopped reading
/// but keeps its connection) is let go: its place, and with `pieces` the temporary file behind
/// them, are given back, and its answer ends in an error, so it sees an incomplete transfer.
/// Waiting for the next piece (a query still running) is not counted: only the client's time.
fn held_while_read<S>(
    pieces: S,
    place: OwnedSemaphorePermit,
    idle: std::time::Duration,
) -> impl futures_util::Stream<Item = Piece> + Send + 'static
where
    S: futures_util::Stream<Item = Piece> + Send + 'static,
{
    use tokio::sync::mpsc::error::SendTimeoutError;
    // `None` ends the answer; a channel closed before it is a download let go.
    let (tx, rx) = mpsc::channel::<Option<Piece>>(1);
    tokio::spawn(async move {
        let mut place = Some(place);
        let mut pieces = std::pin::pin!(pieces);
        loop {
            let next = pieces.next().await;
            let end = next.is_none();
            if end {
                place.take(); // given back before the client hears of the end
            }
            match tx.send_timeout(next, idle).await {
                Ok(()) if !end => {}
                Ok(()) | Err(SendTimeoutError::Closed(_)) => return,
                Err(SendTimeoutError::Timeout(_)) => {
                    tracing::warn!(
                        idle_secs = idle.as_secs(),
                        "a download took nothing for too long: stopped"
                    );
                    return;
                }
            }
        }
    });
    stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Some(Some(piece)) => Some((piece, Some(rx))),
            Some(None) => None,
            None => {
                let e = "the download took nothing for too long";
                Some((
                    Err(std::io::Error::new(std::io::ErrorKind::TimedOut, e)),
                    None,
                ))
            }
        }
    })
}

/// The CSV text: the header, `first` (none: there are no rows), then every row. A task writes
/// it to a temporary file as fast as the rows come, so the query (its connection, its read
/// snapshot and its export turn) ends at the database's pace, not the client's; the answer is
/// read from the file as it grows, in pieces of [`CSV_PIECE`] bytes or so. A table cut short
/// cuts the answer off after what was written.
fn csv_spooled<const N: usize>(
    columns: &'static [&'static str; N],
    first: Option<[String; N]>,
    mut rows: Rows<N>,
) -> std::io::Result<impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static>
{
    let file = Arc::new(std::sync::Mutex::new(tempfile::tempfile()?));
    let (told, written) = tokio::sync::watch::channel(Spooled::Growing(0));
    let to = file.clone();
    tokio::spawn(async move {
        let mut lead: Vec<[String; N]> = std::iter::once(columns.map(String::from))
            .chain(first)
            .collect();
        let (mut more, mut len, mut batch) = (lead.len() > 1, 0u64, Vec::with_capacity(256));
        let end = loop {
            // A piece of CSV_PIECE bytes or so, from the rows as they come (taken a batch at
            // a time: one wake-up per row was a third of a fast download's time).
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::with_capacity(CSV_PIECE + 64 * 1024));
            let mut failed = None;
            for r in lead.drain(..) {
                if let Err(e) = w.write_record(&r) {
                    failed = Some(e.to_string());
                }
            }
            while more && failed.is_none() && w.get_ref().len() < CSV_PIECE {
                if rows.recv_many(&mut batch, 256).await == 0 {
                    failed = next_row::<N>(None).err();
                }
                for r in batch.drain(..) {
                    match r {
                        Ok(Some(r)) => {
                            if let Err(e) = w.write_record(&r) {
                                failed = Some(e.to_string());
                                break;
                            }
                        }
                        Ok(None) => more = false,
                        Err(e) => {
                            failed = Some(e.to_string());
                            break;
                        }
                    }
                }
            }
            let piece = match w.into_inner() {
                Ok(b) => b,
                Err(e) => break Spooled::Failed(len, e.to_string()),
            };
            let to = to.clone();
            match tokio::task::spawn_blocking(move || append(&to, len, &piece)).await {
                Ok(Ok(n)) => len += n,
                Ok(Err(e)) => break Spooled::Failed(len, e.to_string()),
                Err(e) => break Spooled::Failed(len, e.to_string()),
            }
            if let Some(e) = failed {
                break Spooled::Failed(len, e);
            }
            if !more {
                break Spooled::Whole(len);
            }
            if told.send(Spooled::Growing(len)).is_err() {
                return; // nobody reads: the client went away
            }
        };
        if let Spooled::Failed(_, e) = &end {
            tracing::error!(error = %e, "export failed after its first rows");
        }
        let _ = told.send(end);
    });
    Ok(stream::unfold(Some((0u64, written)), move |state| {
        let file = file.clone();
        async move {
            let (at, mut written) = state?;
            loop {
                let now = written.borrow_and_update().clone();
                let (len, done) = match &now {
                    Spooled::Growing(n) => (*n, None),
                    Spooled::Whole(n) => (*n, Some(Ok(()))),
                    Spooled::Failed(n, e) => (*n, Some(Err(e.clone()))),
                };
                if at < len {
                    let file = file.clone();
                    let want = (len - at).min(4 * CSV_PIECE as u64) as usize;
                    let piece = tokio::task::spawn_blocking(move || read_at(&file, at, want))
                        .await
                        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
                    return Some(match piece {
                        Ok(b) => (Ok(Bytes::from(b)), Some((at + want as u64, written))),
                        Err(e) => (Err(e), None),
                    });
                }
                match done {
                    Some(Ok(())) => return None,
                    Some(Err(e)) => return Some((Err(std::io::Error::other(e)), None)),
                    None => {
                        if written.changed().await.is_err() {
                            let e = "the export's writer stopped";
                            return Some((Err(std::io::Error::other(e)), None));
                        }
                    }
                }
            }
        }
    }))
}

/// Write `piece` at `at` (the file's end) in the spool file; the bytes written.
fn append(file: &std::sync::Mutex<std::fs::File>, at: u64, piece: &[u8]) -> std::io::Result<u64> {
    use std::io::Write;
    let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
    f.seek(SeekFrom::Start(at))?;
    f.write_all(piece)?;
    Ok(piece.len() as u64)
}

/// `len` bytes of the spool file from `at` (all written already).
fn read_at(
    file: &std::sync::Mutex<std::fs::File>,
    at: u64,
    len: usize,
) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(&mut buf)?;
    Ok(buf)
}

/// An XLSX workbook of the rows in a temporary file (gone once closed), read from its start:
/// a sheet named after the table, and more (`Name 2`, …) past `per_sheet` rows each.
fn xlsx<const N: usize>(
    name: &str,
    columns: &[&str; N],
    mut rows: Rows<N>,
    per_sheet: u32,
) -> Result<std::fs::File, String> {
    use rust_xlsxwriter::{Format, Workbook, XlsxError};
    let mut title = name.to_string();
    title[..1].make_ascii_uppercase();
    let bold = Format::new().set_bold();
    let mut wb = Workbook::new();
    let new_sheet = |wb: &mut Workbook, k: usize| -> Result<(), XlsxError> {
        let sheet = wb.add_worksheet_with_constant_memory();
        sheet.set_name(match k {
            0 => title.clone(),
            _ => format!("{title} {}", k + 1),
        })?;
        for (c, col) in columns.iter().enumerate() {
            sheet.write_with_format(0, c as u16, *col, &bold)?;
        }
        Ok(())
    };
    let mut run = |wb: &mut Workbook| -> Result<(), String> {
        new_sheet(wb, 0).map_err(|e| e.to_string())?;
        let (mut sheet, mut row) = (0usize, 0u32);
        while let Some(r) = next_row(rows.blocking_recv())? {
            if row == per_sheet {
                sheet += 1;
                row = 0;
                new_sheet(wb, sheet).map_err(|e| e.to_string())?;
            }
            row += 1;
            let ws = wb.worksheet_from_index(sheet).map_err(|e| e.to_string())?;
            for (c, cell) in r.iter().enumerate() {
                let written = match cell.parse::<i64>() {
                    Ok(n) if !cell.starts_with('+') && !cell.starts_with('0') || cell == "0" => {
                        ws.write_number(row, c as u16, n as f64)
                    }
                    _ => ws.write_string(row, c as u16, cell),
                };
                written.map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    };
    run(&mut wb)?;
    let mut file = tempfile::tempfile().map_err(|e| e.to_string())?;
    wb.save_to_writer(&mut file).map_err(|e| e.to_string())?;
    file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    Ok(file)
}

/// A file's bytes from where it stands, in pieces, read off the async threads.
fn file_pieces(
    file: std::fs::File,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; 256 * 1024];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((buf, file))
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        match read {
            Ok((buf, _)) if buf.is_empty() => None,
            Ok((buf, file)) => Some((Ok(Bytes::from(buf)), Some(file))),
            Err(e) => Some((Err(e), None)),
        }
    })
}

#[cfg(test)]
#[path = "../../tests/support/xlsx_sheets.rs"]
mod xlsx;

#[cfg(test)]
mod tests {
    use super::*;

    use super::xlsx::xlsx_sheets as sheets;

    #[tokio::test]
    async fn xlsx_goes_on_to_another_sheet_past_the_rows_a_sheet_holds() {
        let (tx, rx) = rows::<2>();
        let fed = tokio::spawn(async move {
            for i in 0..5 {
                tx.send(Ok(Some([i.to_string(), format!("+1415555{i:04}")])))
                    .await
                    .unwrap();
            }
            tx.send(Ok(None)).await.unwrap();
        });
        let file = tokio::task::spawn_blocking(move || xlsx("numbers", &["id", "phone"], rx, 2))
            .await
            .unwrap()
            .unwrap();
        fed.await.unwrap();
        let sheets = sheets(file);
        assert_eq!(sheets.len(), 3, "2 + 2 + 1 rows");
        for (k, xml) in sheets.iter().enumerate() {
            assert!(xml.contains(">id<") && xml.contains(">phone<"), "{xml}");
            for i in 0..5 {
                let here = i / 2 == k;
                assert_eq!(xml.contains(&format!("+1415555{i:04}")), here, "{k}: {xml}");
            }
        }
    }

    #[tokio::test]
    async fn xlsx_of_a_table_cut_short_is_an_error() {
        for last in [Some(Err(StoreError::NotFound)), None] {
            let (tx, rx) = rows::<2>();
            tx.send(Ok(Some(["1".into(), "x".into()]))).await.unwrap();
            if let Some(r) = last {
                tx.send(r).await.unwrap();
            }
            drop(tx);
            let made = tokio::task::spawn_blocking(move || xlsx("numbers", &["id", "x"], rx, 9))
                .await
                .unwrap();
            assert!(made.is_err());
        }
    }

    #[tokio::test]
    async fn csv_sends_every_row_in_order_and_cuts_off_at_an_error() {
        let (tx, rx) = rows::<2>();
        let fed = tokio::spawn(async move {
            for i in 0..20_000 {
                tx.send(Ok(Some([i.to_string(), "a,b".into()])))
                    .await
                    .unwrap();
            }
            tx.send(Ok(None)).await.unwrap();
        });
        let pieces = all_pieces(rx).await;
        fed.await.unwrap();
        let text: Vec<u8> = pieces
            .into_iter()
            .flat_map(|p| p.unwrap().to_vec())
            .collect();
        let text = String::from_utf8(text).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20_001);
        assert_eq!(lines[0], "id,text");
        assert_eq!(lines[1], "0,\"a,b\"");
        assert_eq!(lines[20_000], "19999,\"a,b\"");

        let (tx, rx) = rows::<2>();
        tx.send(Ok(Some(["1".into(), "x".into()]))).await.unwrap();
        tx.send(Err(StoreError::NotFound)).await.unwrap();
        drop(tx);
        let pieces = all_pieces(rx).await;
        assert!(pieces.last().unwrap().is_err(), "the answer is cut off");

        // The query stopped (its task ended) before the end of the table.
        let (tx, rx) = rows::<2>();
        tx.send(Ok(Some(["1".into(), "x".into()]))).await.unwrap();
        drop(tx);
        let pieces = all_pieces(rx).await;
        assert!(pieces.last().unwrap().is_err(), "the answer is cut off");

        let (tx, rx) = rows::<2>();
        tx.send(Ok(None)).await.unwrap();
        let pieces = all_pieces(rx).await;
        assert_eq!(pieces.len(), 1);
        assert_eq!(
            pieces[0].as_ref().unwrap(),
            "id,text\n",
            "no rows: the header alone"
        );
    }

    /// The pieces of a CSV answer, its first row taken as `table_file` takes it.
    async fn all_pieces(mut rx: Rows<2>) -> Vec<Result<Bytes, std::io::Error>> {
        let first = next_row(rx.recv().await).unwrap();
        csv_spooled(&["id", "text"], first, rx)
            .unwrap()
            .collect()
            .await
    }

    /// A download keeps its place while its client reads, however slowly, and gives it back
    /// at its end; a client that takes nothing for the idle time loses its place and its
    /// answer is cut off; one that goes away gives it back at once.
    #[tokio::test(start_paused = true)]
    async fn downloads_keep_their_place_while_read_and_lose_it_when_idle() {
        use std::time::Duration;
        let places = Arc::new(Semaphore::new(1));
        let pieces = || stream::iter((0..6).map(|i| Ok(Bytes::from(format!("piece {i}\n")))));
        let idle = Duration::from_secs(120);
        let take = || places.clone().try_acquire_owned().expect("a free place");

        // Read slowly, but within the idle time: every piece, then the end.
        let mut answer = Box::pin(held_while_read(pieces(), take(), idle));
        let mut got = vec![];
        while let Some(p) = answer.next().await {
            got.push(p.unwrap());
            // (The answer is read at most two pieces ahead: the last ones may find it ended.)
            if got.len() < 5 {
                assert_eq!(places.available_permits(), 0, "kept while read");
            }
            tokio::time::sleep(idle - Duration::from_secs(1)).await;
        }
        assert_eq!(got.len(), 6);
        assert_eq!(places.available_permits(), 1, "given back by the end");

        // Two pieces read, then nothing for longer than the idle time.
        let mut answer = Box::pin(held_while_read(pieces(), take(), idle));
        for i in 0..2 {
            assert_eq!(
                answer.next().await.unwrap().unwrap(),
                format!("piece {i}\n")
            );
        }
        tokio::time::sleep(idle - Duration::from_secs(1)).await;
        assert_eq!(places.available_permits(), 0, "not idle long enough yet");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            places.available_permits(),
            1,
            "a stalled download lost its place"
        );
        let rest: Vec<_> = answer.collect().await;
        assert!(rest.len() < 4, "not every piece: {rest:?}");
        let last = rest.last().unwrap().as_ref().unwrap_err();
        assert_eq!(last.kind(), std::io::ErrorKind::TimedOut, "cut off: {last}");

        // A client that goes away gives its place back.
        let mut answer = Box::pin(held_while_read(pieces(), take(), idle));
        answer.next().await.unwrap().unwrap();
        drop(answer);
        tokio::task::yield_now().await;
        assert_eq!(
            places.available_permits(),
            1,
            "given back when the client went away"
        );
    }

    /// A CSV answer nobody reads yet takes every row of its query (which then ends, with its
    /// connection and its turn), more than the channel between them holds; read later, it is
    /// whole and in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn csv_takes_every_row_before_the_client_reads() {
        let (tx, mut rx) = rows::<2>();
        let rows = 10 * AHEAD;
        let fed = tokio::spawn(async move {
            for i in 0..rows {
                tx.send(Ok(Some([i.to_string(), "x".repeat(100)])))
                    .await
                    .unwrap();
            }
            tx.send(Ok(None)).await.unwrap();
        });
        let first = next_row(rx.recv().await).unwrap();
        let answer = csv_spooled(&["id", "text"], first, rx).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), fed)
            .await
            .expect("the query ended with no one reading")
            .unwrap();
        let text: Vec<u8> = answer.map(|p| p.unwrap().to_vec()).concat().await;
        let text = String::from_utf8(text).unwrap();
        let ids: Vec<usize> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(ids, (0..rows).collect::<Vec<_>>());
    }
}
