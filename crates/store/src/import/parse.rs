//! The importer's parser: CSV records to checked rows, packed into chunks.
//!
//! A chunk keeps its rows' text in one buffer and each field as a span of it, and the inserter
//! hands emptied chunks back to the parser ([`Recycle`]). So a row costs no allocation of its
//! own once the first chunks exist: the parser's thread no longer allocates every field of a
//! million rows that the inserter's thread then frees (each such free takes the lock of the
//! parser's malloc arena, which the parser is using at the same moment).

use std::io::Read;
use std::ops::Range;
use std::sync::mpsc as std_mpsc;

use switchboard_core::csv_columns::{LeadColumn, match_header, sniff_delimiter};
use switchboard_core::lead::normalize_tag;
use switchboard_core::{PhoneNormalizer, Priority};
use tokio::sync::mpsc;

use super::{ImportError, RowError};

/// Checked rows: their text in one buffer, each row's fields as spans of it.
#[derive(Default)]
pub(super) struct Rows {
    text: String,
    rows: Vec<Spans>,
}

/// Where a row's fields are in [`Rows::text`] (`None`: the field is empty).
struct Spans {
    phone: Range<usize>,
    name: Option<Range<usize>>,
    email: Option<Range<usize>>,
    priority: &'static str,
    /// The tags as the JSON array stored in `leads.tags` (`None`: `[]`).
    tags: Option<Range<usize>>,
    timezone: Option<Range<usize>>,
    list: Option<Range<usize>>,
    notes: Option<Range<usize>>,
}

/// One checked row, borrowed from its chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Row<'a> {
    pub phone: &'a str,
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub priority: &'static str,
    pub tags: &'a str,
    pub timezone: Option<&'a str>,
    pub list: Option<&'a str>,
    pub notes: Option<&'a str>,
}

impl Rows {
    fn with_capacity(rows: usize) -> Self {
        Self {
            text: String::with_capacity(rows * 80),
            rows: Vec::with_capacity(rows),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|s| self.view(s))
    }

    /// Keep the rows `keep` says yes to (their text stays where it is).
    pub(super) fn retain(&mut self, mut keep: impl FnMut(Row<'_>) -> bool) {
        let text = &self.text;
        self.rows.retain(|s| keep(view(text, s)));
    }

    fn view<'a>(&'a self, s: &Spans) -> Row<'a> {
        view(&self.text, s)
    }

    fn clear(&mut self) {
        self.text.clear();
        self.rows.clear();
    }
}

fn view<'a>(text: &'a str, s: &Spans) -> Row<'a> {
    let at = |r: &Option<Range<usize>>| r.clone().map(|r| &text[r]);
    Row {
        phone: &text[s.phone.clone()],
        name: at(&s.name),
        email: at(&s.email),
        priority: s.priority,
        tags: at(&s.tags).unwrap_or("[]"),
        timezone: at(&s.timezone),
        list: at(&s.list),
        notes: at(&s.notes),
    }
}

/// Hands emptied chunks back to the parser. Dropping a chunk instead is always fine.
#[derive(Clone)]
pub(super) struct Recycle(std_mpsc::SyncSender<Rows>);

impl Recycle {
    pub(super) fn give_back(&self, mut rows: Rows) {
        rows.clear();
        let _ = self.0.try_send(rows);
    }
}

/// Chunks given back, and a new one when none is.
pub(super) struct Reuse {
    returned: std_mpsc::Receiver<Rows>,
    rows_per_chunk: usize,
}

impl Reuse {
    fn take(&self) -> Rows {
        self.returned
            .try_recv()
            .unwrap_or_else(|_| Rows::with_capacity(self.rows_per_chunk))
    }
}

/// A recycling loop for chunks of `rows_per_chunk` rows; `spare` chunks can wait to be reused.
pub(super) fn recycling(rows_per_chunk: usize, spare: usize) -> (Recycle, Reuse) {
    let (tx, rx) = std_mpsc::sync_channel(spare);
    (
        Recycle(tx),
        Reuse {
            returned: rx,
            rows_per_chunk,
        },
    )
}

pub(super) enum Msg {
    Rows(Rows),
    Bad(RowError),
}

struct Columns {
    map: Vec<(usize, LeadColumn)>,
}

/// Appends to `text` and returns where it went.
fn put(text: &mut String, s: &str) -> Range<usize> {
    let start = text.len();
    text.push_str(s);
    start..text.len()
}

/// `s` cut to at most `max` characters.
fn clip(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((end, _)) => &s[..end],
        None => s,
    }
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

    /// Check `rec` and add it to `out`; a bad row leaves `out` as it was.
    fn parse(
        &self,
        rec: &csv::ByteRecord,
        phones: &PhoneNormalizer,
        out: &mut Rows,
    ) -> Result<(), String> {
        let start = out.text.len();
        let parsed = self.parse_into(rec, phones, &mut out.text);
        match parsed {
            Ok(spans) => {
                out.rows.push(spans);
                Ok(())
            }
            Err(e) => {
                out.text.truncate(start);
                Err(e)
            }
        }
    }

    fn parse_into(
        &self,
        rec: &csv::ByteRecord,
        phones: &PhoneNormalizer,
        text: &mut String,
    ) -> Result<Spans, String> {
        let mut row = Spans {
            phone: 0..0,
            name: None,
            email: None,
            priority: "medium",
            tags: None,
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
                LeadColumn::Name => row.name = Some(put(text, clip(v, 200))),
                LeadColumn::FirstName => first = Some(v),
                LeadColumn::LastName => last = Some(v),
                LeadColumn::Email => {
                    if !v.contains('@') || v.len() > 254 {
                        return Err(format!("'{v}' is not an email address"));
                    }
                    let at = if v.is_ascii() {
                        let at = put(text, v);
                        text[at.clone()].make_ascii_lowercase();
                        at
                    } else {
                        put(text, &v.to_lowercase())
                    };
                    row.email = Some(at);
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
                    row.tags = match serde_json::to_string(&tags) {
                        Ok(json) => Some(put(text, &json)),
                        Err(_) => None,
                    };
                }
                LeadColumn::Timezone => {
                    v.parse::<chrono_tz::Tz>()
                        .map_err(|_| format!("'{v}' is not an IANA time zone"))?;
                    row.timezone = Some(put(text, v));
                }
                LeadColumn::List => row.list = Some(put(text, clip(v, 100))),
                LeadColumn::Notes => row.notes = Some(put(text, clip(v, 2000))),
            }
        }
        let phone = phones.normalize(raw_phone).map_err(|e| e.to_string())?;
        row.phone = put(text, &phone);
        if row.name.is_none() && (first.is_some() || last.is_some()) {
            let n = format!("{} {}", first.unwrap_or(""), last.unwrap_or(""));
            row.name = Some(put(text, clip(n.trim(), 200)));
        }
        Ok(row)
    }
}

/// A CSV reader over `input`, read `buffer` bytes at a time: its delimiter (`,` or `;`) picked
/// from the first line, a UTF-8 byte-order mark dropped. A file that is empty or holds the NUL
/// byte in its first `buffer` bytes (binary: a spreadsheet, an image) is refused whole
/// (`NotCsv`).
pub fn open_csv<R: Read>(
    input: R,
    buffer: usize,
) -> Result<csv::Reader<std::io::BufReader<R>>, ImportError> {
    let mut input = std::io::BufReader::with_capacity(buffer, input);
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
    Ok(csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(input))
}

/// Parse `input` on the calling (blocking) thread, sending chunks of `reuse`'s size to `tx`.
pub(super) fn parse_stream(
    input: impl Read,
    phones: PhoneNormalizer,
    tx: mpsc::Sender<Msg>,
    reuse: Reuse,
) -> Result<(), ImportError> {
    let mut rdr = open_csv(input, 256 * 1024)?;
    let header = rdr
        .byte_headers()
        .map_err(|e| ImportError::NotCsv(format!("cannot read the header row: {e}")))?
        .clone();
    let columns = Columns::from_header(&header)?;

    let mut rec = csv::ByteRecord::new();
    let mut chunk = reuse.take();
    loop {
        let line = rdr.position().line();
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                if rec.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
                    continue; // blank line
                }
                // A NUL past the first block read (which would make the file binary): the row
                // is refused, as PostgreSQL stores no NUL in text.
                let parsed = if rec.as_slice().contains(&0) {
                    Err("the row holds the NUL character".to_string())
                } else {
                    columns.parse(&rec, &phones, &mut chunk)
                };
                match parsed {
                    Ok(()) => {
                        if chunk.len() == reuse.rows_per_chunk {
                            let full = std::mem::replace(&mut chunk, reuse.take());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(csv_text: &str) -> (Vec<String>, Vec<String>) {
        let phones = PhoneNormalizer::new(Some("US")).expect("region");
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(csv_text.as_bytes());
        let columns = Columns::from_header(&rdr.byte_headers().expect("header").clone())
            .unwrap_or_else(|_| panic!("header"));
        let mut rows = Rows::with_capacity(4);
        let mut errors = Vec::new();
        for rec in rdr.byte_records() {
            if let Err(e) = columns.parse(&rec.expect("record"), &phones, &mut rows) {
                errors.push(e);
            }
        }
        (rows.iter().map(|r| format!("{r:?}")).collect(), errors)
    }

    #[test]
    fn a_bad_row_leaves_no_text_behind() {
        let (rows, errors) = parse_all(
            "phone,name,email,tags,list\n\
             2125550100,Ann,ANN@Example.COM,VIP|vip|new,Spring\n\
             2125550101,Bad Row With A Long Name,not-an-email,x,y\n\
             2125550102,Ünal,ÜNAL@EXAMPLE.COM,,\n",
        );
        assert_eq!(errors, vec!["'not-an-email' is not an email address"]);
        assert_eq!(
            rows,
            vec![
                format!(
                    "{:?}",
                    Row {
                        phone: "+12125550100",
                        name: Some("Ann"),
                        email: Some("ann@example.com"),
                        priority: "medium",
                        tags: r#"["vip","new"]"#,
                        timezone: None,
                        list: Some("Spring"),
                        notes: None,
                    }
                ),
                format!(
                    "{:?}",
                    Row {
                        phone: "+12125550102",
                        name: Some("Ünal"),
                        email: Some("ünal@example.com"),
                        priority: "medium",
                        tags: "[]",
                        timezone: None,
                        list: None,
                        notes: None,
                    }
                ),
            ]
        );
    }

    #[test]
    fn clip_counts_characters() {
        assert_eq!(clip("ab€cd", 3), "ab€");
        assert_eq!(clip("ab", 3), "ab");
        let long = "é".repeat(250);
        assert_eq!(clip(&long, 200).chars().count(), 200);
    }

    #[test]
    fn retained_rows_keep_their_text_and_recycled_chunks_come_back_empty() {
        let phones = PhoneNormalizer::new(Some("US")).expect("region");
        let mut rdr = csv::ReaderBuilder::new()
            .from_reader("phone,name\n2125550100,A\n2125550101,B\n2125550102,C\n".as_bytes());
        let columns = Columns::from_header(&rdr.byte_headers().expect("header").clone())
            .unwrap_or_else(|_| panic!("header"));
        let (recycle, reuse) = recycling(8, 2);
        let mut rows = reuse.take();
        for rec in rdr.byte_records() {
            columns
                .parse(&rec.expect("record"), &phones, &mut rows)
                .expect("good row");
        }
        rows.retain(|r| r.name != Some("B"));
        let names: Vec<_> = rows.iter().map(|r| (r.phone, r.name)).collect();
        assert_eq!(
            names,
            vec![("+12125550100", Some("A")), ("+12125550102", Some("C"))]
        );
        let capacity = rows.text.capacity();
        recycle.give_back(rows);
        let again = reuse.take();
        assert!(again.is_empty() && again.text.is_empty());
        assert_eq!(again.text.capacity(), capacity, "the same buffer came back");
    }
}
