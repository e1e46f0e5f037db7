//! `split`: one record per split point of a multi-step trace ("everything up to this tool
//! result" → "what comes next"), built from byte-exact slices of the input.

use std::path::{Path, PathBuf};

use crate::dedup::Missing;
use crate::error::{Error, LineError, Problem};
use crate::input::open_inputs;
use crate::lookup::{elements, lookup};
use crate::output::AtomicOutput;
use crate::parse::{Parser, MAX_POINTERS};
use crate::pipeline::{each_record, run, Options, Reject, Totals};
use crate::pointer::Pointer;
use crate::value::{equals, Operand, Value};

/// Field names the split record uses itself; a carried field may not take them.
pub const OWN_FIELDS: [&str; 4] = ["split_index", "total_splits", "context", "response"];

#[derive(Clone, Debug)]
pub struct SplitSpec {
    /// The array of steps.
    pub steps: Pointer,
    /// A step is a split point when its value at `on` (relative to the step) equals `on_value`.
    pub on: Pointer,
    pub on_value: Operand,
    /// Parent fields copied into every split record, as (name, pointer).
    pub carry: Vec<(String, Pointer)>,
    pub keep_empty: bool,
    /// `Error` or `Skip` for records without the steps array (`Keep` means nothing here).
    pub missing: Missing,
}

#[derive(Debug, Default)]
pub struct SplitReport {
    pub records: u64,
    /// Bytes of input read.
    pub bytes: u64,
    pub written: u64,
    pub missing: u64,
    pub malformed: u64,
    pub errors: Vec<LineError>,
}

pub fn split(inputs: &[PathBuf], output: &Path, spec: &SplitSpec, options: &Options) -> Result<SplitReport, Error> {
    for (name, _) in &spec.carry {
        if OWN_FIELDS.contains(&name.as_str()) {
            return Err(Error::Usage(format!("a carried field cannot be named {name:?}: split records use that name")));
        }
    }
    if spec.carry.len() + 1 > MAX_POINTERS {
        return Err(Error::Usage(format!("at most {} carried fields", MAX_POINTERS - 1)));
    }
    if spec.missing == Missing::Keep {
        return Err(Error::Usage("missing must be 'error' or 'skip' for split".into()));
    }
    let mut pointers = vec![spec.steps.clone()];
    pointers.extend(spec.carry.iter().map(|(_, p)| p.clone()));
    let names: Vec<Vec<u8>> = spec.carry.iter().map(|(n, _)| json_string(n)).collect();

    let files = open_inputs(inputs)?;
    let input_names = crate::input::names(&files);
    let mut out = AtomicOutput::create(output)?;
    let mut totals = Totals::default();
    let (mut written, mut missing) = (0, 0);
    run(
        &files,
        options,
        |chunk| {
            let mut parser = Parser::new(pointers.clone());
            let mut buf = Vec::new();
            let (mut count, mut lacking) = (0u64, 0u64);
            let tally = each_record(chunk, &mut parser, options, |parser, line| {
                let s = line.bytes;
                let steps = parser.found(0).filter(|sp| &s[sp.start..sp.end] != b"null");
                let Some(steps) = steps else {
                    lacking += 1;
                    return match spec.missing {
                        Missing::Error => Err(Reject::Missing(Problem::at(
                            chunk,
                            line,
                            0,
                            format!(
                                "the record has no array at {}; pass missing='skip' to leave such records out",
                                spec.steps
                            ),
                        ))),
                        _ => Ok(()),
                    };
                };
                if s[steps.start] != b'[' {
                    let found = Value::of(&s[steps.start..steps.end]).type_name();
                    let reason = format!("the steps at {} are {found}, not an array", spec.steps);
                    return Err(Reject::Malformed(Problem::at(chunk, line, steps.start, reason)));
                }
                let steps = elements(s, steps);
                let points: Vec<usize> = (0..steps.len())
                    .filter(|&i| {
                        lookup(s, steps[i], &spec.on)
                            .is_some_and(|v| equals(&Value::of(&s[v.start..v.end]), &spec.on_value))
                    })
                    .collect();
                for (k, &at) in points.iter().enumerate() {
                    let next = points.get(k + 1).copied().unwrap_or(steps.len());
                    if next == at + 1 && !spec.keep_empty {
                        continue;
                    }
                    buf.push(b'{');
                    for (c, name) in names.iter().enumerate() {
                        if let Some(v) = parser.found(c + 1) {
                            buf.extend_from_slice(name);
                            buf.push(b':');
                            buf.extend_from_slice(&s[v.start..v.end]);
                            buf.push(b',');
                        }
                    }
                    buf.extend_from_slice(
                        format!("\"split_index\":{k},\"total_splits\":{},\"context\":[", points.len()).as_bytes(),
                    );
                    buf.extend_from_slice(&s[steps[0].start..steps[at].end]);
                    buf.extend_from_slice(b"],\"response\":[");
                    if next > at + 1 {
                        buf.extend_from_slice(&s[steps[at + 1].start..steps[next - 1].end]);
                    }
                    buf.extend_from_slice(b"]}\n");
                    count += 1;
                }
                Ok(())
            });
            (tally, buf, count, lacking)
        },
        |chunk, (tally, buf, count, lacking)| {
            totals.add(chunk, tally, &input_names, options)?;
            written += count;
            missing += lacking;
            out.write(&buf)
        },
    )?;
    if written > 0 || options.allow_empty {
        out.finish()?;
    }
    Ok(SplitReport {
        records: totals.records,
        bytes: totals.bytes,
        written,
        missing,
        malformed: totals.malformed,
        errors: totals.errors,
    })
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
    out
}
