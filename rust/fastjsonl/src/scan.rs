//! `scan`: validate every line of every file and count what is there.

use std::path::PathBuf;

use crate::error::{Error, LineError};
use crate::input::{names, open_inputs};
use crate::parse::Parser;
use crate::pipeline::{each_record, run, ChunkTally, Options, Totals};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileScan {
    pub path: PathBuf,
    pub records: u64,
    pub bytes: u64,
    pub blank_lines: u64,
    pub malformed: u64,
    pub bom: bool,
    pub crlf_lines: u64,
}

#[derive(Debug, Default)]
pub struct ScanReport {
    pub files: Vec<FileScan>,
    pub records: u64,
    pub bytes: u64,
    pub blank_lines: u64,
    pub malformed: u64,
    pub errors: Vec<LineError>,
}

/// Scans `paths`. Malformed lines never stop a scan, whatever `options.on_error` says:
/// finding them is its job. They are counted and the first `max_errors` are kept.
pub fn scan(paths: &[PathBuf], options: &Options) -> Result<ScanReport, Error> {
    let options = Options { on_error: crate::pipeline::OnError::Collect, ..options.clone() };
    let inputs = open_inputs(paths)?;
    let names = names(&inputs);
    let mut files: Vec<FileScan> = names.iter().map(|p| FileScan { path: p.clone(), ..FileScan::default() }).collect();
    let mut totals = Totals::default();
    run(
        &inputs,
        &options,
        |chunk| -> ChunkTally {
            let mut parser = Parser::new(Vec::new());
            each_record(chunk, &mut parser, &options, |_, _| Ok(()))
        },
        |chunk, tally| {
            let file = &mut files[chunk.file];
            file.records += tally.records;
            file.bytes += chunk.data().len() as u64;
            file.blank_lines += tally.blank_lines;
            file.malformed += tally.malformed;
            file.crlf_lines += tally.crlf_lines;
            file.bom |= chunk.first && chunk.data().starts_with(b"\xEF\xBB\xBF");
            totals.add(chunk, tally, &names, &options)
        },
    )?;
    Ok(ScanReport {
        files,
        records: totals.records,
        bytes: totals.bytes,
        blank_lines: totals.blank_lines,
        malformed: totals.malformed,
        errors: totals.errors,
    })
}
