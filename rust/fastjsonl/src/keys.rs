//! The grouping key and ranking score of a record, read at pointers the parser tracked.

use crate::chunks::{Chunk, Line};
use crate::error::Problem;
use crate::parse::Parser;
use std::cmp::Ordering;

use crate::value::{cmp_int_float, int_of, key_text, Value};

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
            format!("the key at {} is {found}; keys must be strings, numbers or booleans", parser.pointers()[index]),
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

/// One score component: integers stay exact (two rewards of 2^53 and 2^53 + 1 must not tie).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn of(value: &Value<'_>) -> Option<Num> {
        match value {
            Value::Int(text) => {
                Some(int_of(text).map(Num::Int).unwrap_or_else(|| Num::Float(value.as_f64().unwrap_or(f64::NAN))))
            }
            Value::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }

    fn negated(self) -> Num {
        match self {
            Num::Int(i) => i.checked_neg().map_or(Num::Float(-(i as f64)), Num::Int),
            Num::Float(f) => Num::Float(-f),
        }
    }

    fn cmp(&self, other: &Num) -> Ordering {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a.cmp(b),
            (Num::Float(a), Num::Float(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            (Num::Int(a), Num::Float(b)) => cmp_int_float(*a, *b),
            (Num::Float(a), Num::Int(b)) => cmp_int_float(*b, *a).reverse(),
        }
    }
}

/// A record's score components, each oriented so that larger is better; `None` when missing.
pub type Score = Vec<Option<Num>>;

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
            match Num::of(&value) {
                Some(x) => Ok(Some(if spec.higher_is_better { x } else { x.negated() })),
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
            (Some(x), Some(y)) => match x.cmp(y) {
                Ordering::Greater => return true,
                Ordering::Less => return false,
                Ordering::Equal => {}
            },
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
        let f = |x: f64| Some(Num::Float(x));
        assert!(better(&vec![f(1.0), f(-5.0)], &vec![f(1.0), f(-6.0)]));
        assert!(!better(&vec![f(1.0)], &vec![f(1.0)]));
        assert!(better(&vec![f(-1e300)], &vec![None]));
        assert!(!better(&vec![None], &vec![None]));
        let big = |i: i128| Some(Num::Int(i));
        assert!(better(&vec![big(9007199254740993)], &vec![big(9007199254740992)]));
        assert!(better(&vec![big(9007199254740993)], &vec![f(9007199254740992.0)]));
        assert!(!better(&vec![big(2)], &vec![f(2.0)]));
        assert_eq!(Num::Int(5).negated(), Num::Int(-5));
        let spec = ScoreSpec::parse("-/usage/tokens").unwrap();
        assert!(!spec.higher_is_better);
        assert_eq!(spec.pointer.as_str(), "/usage/tokens");
    }
}
