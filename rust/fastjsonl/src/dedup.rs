//! `dedup`: one record per key across many files. A first pass keeps, per unique key, where
//! the winning line is and its score; a second pass copies the winning lines byte for byte.
//! Memory holds one small entry per unique key, never the input. A stream cannot be read twice:
//! it is first copied to a scratch file beside the output (as large as the stream, gone when
//! dedup ends), which both passes read.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::copy::{copy_ranges, Range};
use crate::error::{Error, LineError, Problem};
use crate::input::{names, open_inputs, Input};
use crate::keys::{better, key_of, score_of, Score, ScoreSpec};
use crate::output::AtomicOutput;
use crate::parse::Parser;
use crate::pipeline::{each_record, run, Options, Reject, Totals};
use crate::pointer::Pointer;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    First,
    Last,
    Best,
}

/// What to do with a record whose key (or score) is missing or null.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    Error,
    Skip,
    Keep,
}

#[derive(Clone, Debug)]
pub struct DedupSpec {
    pub key: Pointer,
    pub scores: Vec<ScoreSpec>,
    pub keep: Keep,
    pub missing: Missing,
}

#[derive(Debug, Default)]
pub struct DedupReport {
    pub records: u64,
    /// Bytes of input read.
    pub bytes: u64,
    pub written: u64,
    pub unique_keys: u64,
    pub missing: u64,
    pub malformed: u64,
    pub errors: Vec<LineError>,
}

/// Where a candidate line is, and how it ranks.
struct Candidate {
    key: Option<Vec<u8>>,
    score: Score,
    offset: u64,
    len: usize,
    newline_after: bool,
}

struct Winner {
    file: usize,
    offset: u64,
    len: usize,
    /// The line ends with a plain `\n` right after its bytes (not `\r\n`, not end of file),
    /// so it can be copied together with its neighbours in one range.
    newline_after: bool,
    score: Score,
}

#[derive(Default)]
struct ChunkFinds {
    candidates: Vec<Candidate>,
    missing: u64,
}

pub fn dedup(inputs: &[PathBuf], output: &Path, spec: &DedupSpec, options: &Options) -> Result<DedupReport, Error> {
    match (spec.keep, spec.scores.is_empty()) {
        (Keep::Best, true) => return Err(Error::Usage("keep='best' needs a score pointer".into())),
        (Keep::First | Keep::Last, false) => return Err(Error::Usage("a score is only used with keep='best'".into())),
        _ => {}
    }
    let mut pointers = vec![spec.key.clone()];
    pointers.extend(spec.scores.iter().map(|s| s.pointer.clone()));
    if pointers.len() > crate::parse::MAX_POINTERS {
        return Err(Error::Usage(format!("at most {} score pointers", crate::parse::MAX_POINTERS - 1)));
    }

    let mut files = open_inputs(inputs)?;
    let input_names = names(&files);
    let out = AtomicOutput::create(output)?;
    for input in files.iter_mut().filter(|i| i.is_stream()) {
        let (scratch, name) = out.scratch("spool")?;
        input.spool(scratch, &name)?;
    }
    let mut best: HashMap<Vec<u8>, Winner> = HashMap::new();
    let mut keyless: Vec<Winner> = Vec::new();
    let mut totals = Totals::default();
    let mut missing = 0;
    run(
        &files,
        options,
        |chunk| {
            let mut parser = Parser::new(pointers.clone());
            let mut finds = ChunkFinds::default();
            let tally = each_record(chunk, &mut parser, options, |parser, line| {
                let key = key_of(parser, 0, chunk, line)?;
                let score =
                    if spec.keep == Keep::Best { score_of(parser, 1, &spec.scores, chunk, line)? } else { Vec::new() };
                let incomplete = key.is_none() || score.iter().any(Option::is_none);
                if incomplete {
                    finds.missing += 1;
                    match spec.missing {
                        Missing::Skip => return Ok(()),
                        Missing::Error => {
                            let what: Vec<String> = std::iter::once(&spec.key)
                                .chain(spec.scores.iter().map(|s| &s.pointer))
                                .map(|p| p.to_string())
                                .collect();
                            return Err(Reject::Missing(Problem::at(
                                chunk,
                                line,
                                0,
                                format!(
                                    "the record has no value (or null) at {}; pass missing='skip' or 'keep' to accept such records",
                                    what.join(" or ")
                                ),
                            )));
                        }
                        Missing::Keep => {}
                    }
                }
                finds.candidates.push(Candidate {
                    key,
                    score,
                    offset: chunk.offset + line.start as u64,
                    len: line.bytes.len(),
                    newline_after: !line.crlf && !line.unterminated,
                });
                Ok(())
            });
            (tally, finds)
        },
        |chunk, (tally, finds)| {
            totals.add(chunk, tally, &input_names, options)?;
            missing += finds.missing;
            for c in finds.candidates {
                let winner = Winner {
                    file: chunk.file,
                    offset: c.offset,
                    len: c.len,
                    newline_after: c.newline_after,
                    score: c.score,
                };
                let Some(key) = c.key else {
                    keyless.push(winner);
                    continue;
                };
                match best.entry(key) {
                    Entry::Vacant(v) => {
                        v.insert(winner);
                    }
                    Entry::Occupied(mut o) => {
                        let replace = match spec.keep {
                            Keep::First => false,
                            Keep::Last => true,
                            Keep::Best => better(&winner.score, &o.get().score),
                        };
                        if replace {
                            o.insert(winner);
                        }
                    }
                }
            }
            Ok(())
        },
    )?;

    let unique_keys = best.len() as u64;
    let mut winners: Vec<Winner> = best.into_values().chain(keyless).collect();
    winners.sort_unstable_by_key(|w| (w.file, w.offset));
    let written = winners.len() as u64;
    if written > 0 || options.allow_empty {
        copy_lines(&files, &winners, out, options.worker_threads())?;
    }
    Ok(DedupReport {
        records: totals.records,
        bytes: totals.bytes,
        written,
        unique_keys,
        missing,
        malformed: totals.malformed,
        errors: totals.errors,
    })
}

/// Copies the winners' lines (sorted by file and offset) to `output`, each followed by `\n`.
/// Runs of adjacent lines become one range; ranges are copied by the kernel from `threads`
/// threads at once, each to its known place in the output.
fn copy_lines(inputs: &[Input], winners: &[Winner], mut out: AtomicOutput, threads: usize) -> Result<(), Error> {
    let mut ranges = Vec::new();
    let mut to = 0;
    let mut i = 0;
    while i < winners.len() {
        let first = &winners[i];
        let mut end = first.offset + first.len as u64;
        let mut j = i;
        while winners[j].newline_after
            && j + 1 < winners.len()
            && winners[j + 1].file == first.file
            && winners[j + 1].offset == end + 1
        {
            j += 1;
            end = winners[j].offset + winners[j].len as u64;
        }
        // A plain `\n` after the last line comes along with it; otherwise one is written.
        let newline_in_input = winners[j].newline_after;
        let range = Range {
            file: first.file,
            from: first.offset,
            to,
            len: end - first.offset + u64::from(newline_in_input),
            newline: !newline_in_input,
        };
        to += range.out_len();
        ranges.push(range);
        i = j + 1;
    }
    let files: Vec<&File> = inputs.iter().map(|i| &i.file).collect();
    let temp = out.temp_path().to_owned();
    copy_ranges(&files, &ranges, out.file()?, threads).map_err(|(file, e)| match inputs.get(file) {
        Some(input) => Error::io(&input.path, e),
        None => Error::io(&temp, e),
    })?;
    out.finish()
}
