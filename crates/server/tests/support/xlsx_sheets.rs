//! Read an XLSX file's sheets back, for the export tests: the library's unit tests and the API
//! suite both include this file.

use std::io::{Read, Seek};

/// The XML text of each sheet of an XLSX file, in order.
pub fn xlsx_sheets(file: impl Read + Seek) -> Vec<String> {
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut names: Vec<String> = zip
        .file_names()
        .filter(|n| n.starts_with("xl/worksheets/sheet"))
        .map(String::from)
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| {
            let mut s = String::new();
            zip.by_name(n).unwrap().read_to_string(&mut s).unwrap();
            s
        })
        .collect()
}
