//! The grouping key and ranking score of a record, read at pointers the parser tracked.

use crate::chunks::{Chunk, Line};
use crate::error::Problem;
use crate::parse::Parser;
use crate::value::{key_text, Value};

/// The key of the record just parsed (pointer `index` of the parser): `Ok(None)` when missing
/// or null, a problem when it is an object or an array.
pub fn key_of(parser: &Parser, index: usize, chunk: &Chunk, line: &Line<'_>) -> Result<Option<Vec<u8>>, Problem> {
    let Some(span) = parser.found(index) else { return Ok(None) };
    let value = Value::of(&line.bytes[span.start..span.end]);
    match key_text(&value) {
        Ok(key) => Ok(key.map(|k| k.into_owned())),
        Err(found) => Err(Problem::at(
            chunk,
            line,
            span.start,
            format!(
                "the key at {} is {found}; keys must be strings, numbers or booleans",
                parser.pointers()[index]
            ),
        )),
    }
}

/// A score pointer; `descending: false` (written `-/ptr`) ranks lower values higher.
#[derive(Clone, Debug)]
pub struct ScoreSpec {
    pub pointer: crate::pointer::Pointer,
    pub higher_is_better: bool,
}

impl ScoreSpec {
    pub fn parse(text: &str) -> Result<ScoreSpec, String> {
        let (higher_is_better, ptr) = match text.strip_prefix('-') {
            Some(rest) => (false, rest),
            None => (true, text),
        };
        Ok(ScoreSpec { pointer: crate::pointer::Pointer::parse(ptr)?, higher_is_better })
    }
}

/// A record's score components, each oriented so that larger is better; `None` when missing.
pub type Score = Vec<Option<f64>>;

/// Reads the score of the record just parsed from parser pointers `first..first+specs.len()`.
pub fn score_of(
    parser: &Parser,
    first: usize,
    specs: &[ScoreSpec],
    chunk: &Chunk,
    line: &Line<'_>,
) -> Result<Score, Problem> {
    specs
        .iter()
        .enumerate()
        .map(|(k, spec)| {
            let Some(span) = parser.found(first + k) else { return Ok(None) };
            let value = Value::of(&line.bytes[span.start..span.end]);
            if value == Value::Null {
                return Ok(None);
            }
            match value.as_f64() {
                Some(x) => Ok(Some(if spec.higher_is_better { x } else { -x })),
                None => Err(Problem::at(
                    chunk,
                    line,
                    span.start,
                    format!("the score at {} is {}, not a number", spec.pointer, value.type_name()),
                )),
            }
        })
        .collect()
}

/// Whether `a` ranks strictly above `b`: component by component, a missing value below any.
pub fn better(a: &Score, b: &Score) -> bool {
    for (x, y) in a.iter().zip(b) {
        match (x, y) {
            (Some(x), Some(y)) if x > y => return true,
            (Some(x), Some(y)) if x < y => return false,
            (Some(_), None) => return true,
            (None, Some(_)) => return false,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_is_lexicographic_with_missing_lowest() {
        assert!(better(&vec![Some(1.0), Some(-5.0)], &vec![Some(1.0), Some(-6.0)]));
        assert!(!better(&vec![Some(1.0)], &vec![Some(1.0)]));
        assert!(better(&vec![Some(-1e300)], &vec![None]));
        assert!(!better(&vec![None], &vec![None]));
        let spec = ScoreSpec::parse("-/usage/tokens").unwrap();
        assert!(!spec.higher_is_better);
        assert_eq!(spec.pointer.as_str(), "/usage/tokens");
    }
}
