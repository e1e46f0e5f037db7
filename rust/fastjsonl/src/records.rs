//! Validated records of a chunk, ready for the Python layer to turn into objects: where each
//! record is and where its requested fields are. `read` uses this on a background thread so
//! that parsing overlaps with the Python code consuming records.

use crate::chunks::Chunk;
use crate::parse::{Parser, Span};
use crate::pipeline::{each_record, ChunkTally, Options};

/// One valid record: its line in the chunk, its bytes' span in the chunk, and the spans
/// (relative to the record) of the requested fields.
pub struct Record {
    pub line_in_chunk: u64,
    pub span: Span,
    pub fields: Vec<Option<Span>>,
}

/// Validates a chunk, returning its records and what went wrong.
pub fn records(chunk: &Chunk, parser: &mut Parser, options: &Options) -> (Vec<Record>, ChunkTally) {
    let mut out = Vec::new();
    let n = parser.pointers().len();
    let tally = each_record(chunk, parser, options, |parser, line| {
        out.push(Record {
            line_in_chunk: line.index,
            span: Span { start: line.start, end: line.start + line.bytes.len() },
            fields: (0..n).map(|i| parser.found(i)).collect(),
        });
        Ok(())
    });
    (out, tally)
}
