//! `count_by`: how many records there are per key.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::{Error, LineError};
use crate::input::{names, open_inputs};
use crate::keys::key_of;
use crate::parse::Parser;
use crate::pipeline::{each_record, run, Options, Totals};
use crate::pointer::Pointer;

#[derive(Debug, Default)]
pub struct CountReport {
    /// Keys (`None`: missing or null) with their counts, largest first, ties by key.
    pub counts: Vec<(Option<Vec<u8>>, u64)>,
    pub records: u64,
    /// Bytes of input read.
    pub bytes: u64,
    pub malformed: u64,
    pub errors: Vec<LineError>,
}

pub fn count_by(paths: &[PathBuf], key: &Pointer, options: &Options) -> Result<CountReport, Error> {
    let inputs = open_inputs(paths)?;
    let names = names(&inputs);
    let mut counts: HashMap<Option<Vec<u8>>, u64> = HashMap::new();
    let mut totals = Totals::default();
    run(
        &inputs,
        options,
        |chunk| {
            let mut parser = Parser::new(vec![key.clone()]);
            let mut local: HashMap<Option<Vec<u8>>, u64> = HashMap::new();
            let tally = each_record(chunk, &mut parser, options, |parser, line| {
                *local.entry(key_of(parser, 0, chunk, line)?).or_default() += 1;
                Ok(())
            });
            (tally, local)
        },
        |chunk, (tally, local)| {
            totals.add(chunk, tally, &names, options)?;
            for (k, n) in local {
                *counts.entry(k).or_default() += n;
            }
            Ok(())
        },
    )?;
    let mut counts: Vec<_> = counts.into_iter().collect();
    // Missing keys sort after every present key among equal counts.
    counts.sort_by(|(ka, na), (kb, nb)| nb.cmp(na).then_with(|| (ka.is_none(), ka).cmp(&(kb.is_none(), kb))));
    Ok(CountReport {
        counts,
        records: totals.records,
        bytes: totals.bytes,
        malformed: totals.malformed,
        errors: totals.errors,
    })
}
