//! Reading a do-not-call file: streamed from the uploaded (temporary) file on a blocking
//! thread, its numbers handed over in chunks as they are read, so an upload takes the same
//! memory whatever its size and the database sees a few multi-row statements.

use std::io::Read;

use switchboard_core::csv_columns::{LeadColumn, match_header};
use switchboard_core::phone::PhoneNormalizer;
use switchboard_store::import::{ImportError, RowError, open_csv};
use tokio::sync::mpsc;

use crate::error::ApiError;

/// Numbers handed over at a time (each is one multi-row insert).
pub const CHUNK: usize = 500;
/// Refused rows listed in the answer (all are counted).
pub const LISTED_ERRORS: usize = 1000;
/// A reason's length, whether one number is added or a file of them.
pub const MAX_REASON: usize = 500;

/// A number to block and why (the file's `reason` or `notes` column).
pub type Blocked = (String, Option<String>);

/// What reading the file found besides its numbers.
#[derive(Debug, Default)]
pub struct Refused {
    /// The first [`LISTED_ERRORS`] refused rows.
    pub errors: Vec<RowError>,
    pub count: usize,
}

impl Refused {
    fn push(&mut self, line: u64, reason: String) {
        self.count += 1;
        if self.errors.len() < LISTED_ERRORS {
            self.errors.push(RowError { line, reason });
        }
    }
}

/// Read `file` (a CSV with a phone column), sending its numbers to `out` in chunks of
/// [`CHUNK`]. A file that is empty, binary or has no phone column is a 400 before any number
/// is sent. Stops early, without an error, when `out`'s receiver is gone.
pub fn read(
    file: impl Read,
    phones: &PhoneNormalizer,
    out: &mpsc::Sender<Vec<Blocked>>,
) -> Result<Refused, ApiError> {
    let not_csv = |e: ImportError| ApiError::bad_request(e.to_string());
    let mut rdr = open_csv(file, 1 << 16).map_err(not_csv)?;
    // Fields are read as bytes: a file saved in another encoding than UTF-8 (Latin-1 from a
    // spreadsheet) keeps its numbers, its odd characters replaced.
    let text = |f: &[u8]| String::from_utf8_lossy(f).trim().to_string();
    let headers: Vec<String> = rdr
        .byte_headers()
        .map_err(|e| ApiError::bad_request(format!("cannot read the header row: {e}")))?
        .iter()
        .map(text)
        .collect();
    let phone_col = headers
        .iter()
        .position(|h| match_header(h) == Some(LeadColumn::Phone))
        .ok_or_else(|| ApiError::bad_request("no phone column in the header row"))?;
    let reason_col = headers
        .iter()
        .position(|h| matches!(h.to_ascii_lowercase().as_str(), "reason" | "notes" | "note"));
    let mut refused = Refused::default();
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut rec = csv::ByteRecord::new();
    let mut line = 1u64;
    loop {
        line += 1;
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                refused.push(line, format!("malformed CSV: {e}"));
                continue;
            }
        }
        if rec.iter().any(|f| f.contains(&0)) {
            refused.push(line, "the row holds the NUL character".into());
            continue;
        }
        match phones.normalize(&text(rec.get(phone_col).unwrap_or(b""))) {
            Ok(phone) => {
                let reason = reason_col
                    .and_then(|c| rec.get(c))
                    .map(text)
                    .filter(|r| !r.is_empty());
                if reason
                    .as_ref()
                    .is_some_and(|r| r.chars().count() > MAX_REASON)
                {
                    refused.push(line, format!("the reason is over {MAX_REASON} characters"));
                    continue;
                }
                chunk.push((phone, reason));
                if chunk.len() == CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                    if out.blocking_send(full).is_err() {
                        return Ok(refused);
                    }
                }
            }
            Err(e) => refused.push(line, e.to_string()),
        }
    }
    if !chunk.is_empty() {
        let _ = out.blocking_send(chunk);
    }
    Ok(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &[u8]) -> Result<(Vec<Blocked>, Refused), ApiError> {
        let phones = PhoneNormalizer::new(Some("US")).unwrap();
        let (tx, mut rx) = mpsc::channel(1 << 16);
        let refused = read(text, &phones, &tx)?;
        drop(tx);
        let mut all = vec![];
        while let Ok(c) = rx.try_recv() {
            assert!(c.len() <= CHUNK);
            all.extend(c);
        }
        Ok((all, refused))
    }

    #[test]
    fn numbers_come_in_chunks_with_their_reasons() {
        let mut text = String::from("\u{feff}Phone;Reason\n");
        for i in 0..1203 {
            text.push_str(&format!("415555{:04};asked {i}\n", i % 1000));
        }
        text.push_str("nope;x\n");
        let (all, refused) = read_all(text.as_bytes()).unwrap();
        assert_eq!(all.len(), 1203);
        assert_eq!(all[0], ("+14155550000".into(), Some("asked 0".into())));
        assert_eq!(all[1202].0, "+14155550202");
        assert_eq!(refused.count, 1);
        assert_eq!(refused.errors[0].line, 1205);
    }

    #[test]
    fn a_reason_over_500_characters_refuses_its_row() {
        let text = format!(
            "phone,reason\n4155550100,{}\n4155550101,{}\n",
            "x".repeat(501),
            "y".repeat(500)
        );
        let (all, refused) = read_all(text.as_bytes()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, "+14155550101");
        assert_eq!((refused.count, refused.errors[0].line), (1, 2));
    }

    #[test]
    fn a_file_in_another_encoding_keeps_its_numbers() {
        // "réclamation" in Latin-1: its é is not UTF-8.
        let (all, refused) = read_all(b"phone,reason\n4155550100,r\xe9clamation\n").unwrap();
        assert_eq!(refused.count, 0);
        assert_eq!(all[0].0, "+14155550100");
        assert_eq!(all[0].1.as_deref(), Some("r\u{fffd}clamation"));
    }

    #[test]
    fn refusals_are_counted_and_the_first_listed() {
        // Enough bad rows that the NUL comes after the first 64 KiB (there, it makes the file
        // binary and refused whole, as a lead upload's).
        let bad = 14_000;
        let mut text = String::from("mobile,notes\n4155550100,\n");
        for _ in 0..bad {
            text.push_str("12,x\n");
        }
        assert!(text.len() > 1 << 16);
        text.push_str("4155550101,nul\0here\n\"4155550102,open quote\n");
        let (all, refused) = read_all(text.as_bytes()).unwrap();
        assert_eq!(all, [("+14155550100".to_string(), None)]);
        assert_eq!(refused.count, bad + 2);
        assert_eq!(refused.errors.len(), LISTED_ERRORS);
        assert_eq!(refused.errors[0].line, 3);
    }

    #[test]
    fn files_that_are_not_a_phone_list_are_refused_whole() {
        for (text, why) in [
            (&b"name\nann\n"[..], "no phone column"),
            (&b"\xff\xfe\x00p\x00h\x00o\x00n\x00e"[..], "binary"),
            (&b"phone\n4155550100\n4155550101,nul\x00\n"[..], "binary"),
            (&b""[..], "empty"),
        ] {
            let e = read_all(text).expect_err(why);
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{why}");
        }
    }

    #[test]
    fn reading_stops_when_nobody_takes_the_numbers() {
        let phones = PhoneNormalizer::new(Some("US")).unwrap();
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let mut text = String::from("phone\n");
        for i in 0..(3 * CHUNK) {
            text.push_str(&format!("415555{:04}\n", i));
        }
        assert_eq!(read(text.as_bytes(), &phones, &tx).unwrap().count, 0);
    }
}
