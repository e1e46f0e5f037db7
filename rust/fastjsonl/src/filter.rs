//! `filter`: copy, byte for byte and in order, the records that meet every condition.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use crate::error::{Error, LineError};
use crate::input::{names, open_inputs};
use crate::output::AtomicOutput;
use crate::parse::{Parser, MAX_POINTERS};
use crate::pipeline::{each_record, run, Options, Totals};
use crate::pointer::Pointer;
use crate::value::{compare, equals, Operand, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Exists,
    Missing,
}

impl Op {
    pub fn parse(text: &str) -> Result<Op, Error> {
        Ok(match text {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "in" => Op::In,
            "not in" => Op::NotIn,
            "exists" => Op::Exists,
            "missing" => Op::Missing,
            other => {
                return Err(Error::Usage(format!(
                    "unknown operator {other:?}: use ==, !=, <, <=, >, >=, in, not in, exists or missing"
                )))
            }
        })
    }
}

/// One `(pointer, op, value)` condition; `operands` holds one value, or the list for `in`.
#[derive(Clone, Debug)]
pub struct Condition {
    pub pointer: Pointer,
    pub op: Op,
    pub operands: Vec<Operand>,
}

impl Condition {
    fn holds(&self, value: Option<Value<'_>>) -> bool {
        let Some(value) = value else { return self.op == Op::Missing };
        let first = || self.operands.first();
        let ordered = |want: fn(Ordering) -> bool| first().and_then(|o| compare(&value, o)).is_some_and(want);
        match self.op {
            Op::Exists => true,
            Op::Missing => false,
            Op::Eq => first().is_some_and(|o| equals(&value, o)),
            Op::Ne => !first().is_some_and(|o| equals(&value, o)),
            Op::In => self.operands.iter().any(|o| equals(&value, o)),
            Op::NotIn => !self.operands.iter().any(|o| equals(&value, o)),
            Op::Lt => ordered(|o| o == Ordering::Less),
            Op::Le => ordered(|o| o != Ordering::Greater),
            Op::Gt => ordered(|o| o == Ordering::Greater),
            Op::Ge => ordered(|o| o != Ordering::Less),
        }
    }
}

#[derive(Debug, Default)]
pub struct FilterReport {
    pub records: u64,
    /// Bytes of input read.
    pub bytes: u64,
    pub written: u64,
    pub malformed: u64,
    pub errors: Vec<LineError>,
}

pub fn filter(
    inputs: &[PathBuf],
    output: &Path,
    conditions: &[Condition],
    options: &Options,
) -> Result<FilterReport, Error> {
    if conditions.len() > MAX_POINTERS {
        return Err(Error::Usage(format!("at most {MAX_POINTERS} conditions")));
    }
    let pointers: Vec<Pointer> = conditions.iter().map(|c| c.pointer.clone()).collect();
    let files = open_inputs(inputs)?;
    let names = names(&files);
    let mut out = AtomicOutput::create(output)?;
    let mut totals = Totals::default();
    let mut written = 0;
    run(
        &files,
        options,
        |chunk| {
            let mut parser = Parser::new(pointers.clone());
            let mut kept = Vec::new();
            let mut count = 0u64;
            let tally = each_record(chunk, &mut parser, options, |parser, line| {
                let pass = conditions
                    .iter()
                    .enumerate()
                    .all(|(i, c)| c.holds(parser.found(i).map(|s| Value::of(&line.bytes[s.start..s.end]))));
                if pass {
                    kept.extend_from_slice(line.bytes);
                    kept.push(b'\n');
                    count += 1;
                }
                Ok(())
            });
            (tally, kept, count)
        },
        |chunk, (tally, kept, count)| {
            totals.add(chunk, tally, &names, options)?;
            written += count;
            out.write(&kept)
        },
    )?;
    if written > 0 || options.allow_empty {
        out.finish()?;
    }
    Ok(FilterReport {
        records: totals.records,
        bytes: totals.bytes,
        written,
        malformed: totals.malformed,
        errors: totals.errors,
    })
}
