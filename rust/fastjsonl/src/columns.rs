//! `columns`: where every record of each file is (line number, byte offset and length) and the
//! values of some fields, as columns: one list per field, one item per record. An index of a
//! file's records is made of this (harness.doctor.index), so it is made here, on every core,
//! instead of a Python object per record.
//!
//! A field is a JSON pointer in which one segment may be `*`: every element of the array
//! there. `/guess_history/*/status` is then one list per record, the status of each guess in
//! order (a missing item where a guess has none), instead of one pointer per guess.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::chunks::Chunk;
use crate::error::{Error, LineError};
use crate::input::{names, open_inputs};
use crate::lookup::{elements, lookup};
use crate::parse::{Parser, Span, MAX_POINTERS};
use crate::pipeline::{each_record, run, ChunkTally, Options, Totals};
use crate::pointer::Pointer;

/// The segment that stands for every element of an array.
pub const EACH: &str = "*";

/// A field to read: the value at `at`, or with a `*`, the value at `each` inside every element
/// of the array at `at`.
#[derive(Clone, Debug)]
pub struct Field {
    at: Pointer,
    each: Option<Pointer>,
}

impl Field {
    pub fn parse(text: &str) -> Result<Field, String> {
        let segments: Vec<&str> = text.split('/').collect();
        let stars: Vec<usize> = (1..segments.len()).filter(|&i| segments[i] == EACH).collect();
        match stars[..] {
            [] => Ok(Field { at: Pointer::parse(text)?, each: None }),
            [star] => {
                let at = segments[..star].join("/");
                let rest = segments[star + 1..].iter().map(|s| format!("/{s}")).collect::<String>();
                Ok(Field { at: Pointer::parse(&at)?, each: Some(Pointer::parse(&rest)?) })
            }
            _ => Err(format!("field {text:?}: at most one '{EACH}' segment")),
        }
    }
}

/// One field of one record: spans of its file's `values`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Missing,
    One(Span),
    /// One item per element of the array (`None`: the element has no value there).
    Each(Vec<Option<Span>>),
}

/// The records of one file, as columns.
#[derive(Debug, Default)]
pub struct FileColumns {
    pub path: PathBuf,
    /// 1-based line number of each record.
    pub lines: Vec<u64>,
    /// Byte offset of each record in its file (after a BOM).
    pub offsets: Vec<u64>,
    /// Bytes of each record, without its line terminator.
    pub lengths: Vec<u64>,
    /// `cells[field][record]`.
    pub cells: Vec<Vec<Cell>>,
    /// The JSON text of every value found, which the cells' spans point into.
    pub values: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct ColumnsReport {
    pub files: Vec<FileColumns>,
    pub records: u64,
    pub bytes: u64,
    pub malformed: u64,
    pub errors: Vec<LineError>,
}

pub fn columns(paths: &[PathBuf], fields: &[Field], options: &Options) -> Result<ColumnsReport, Error> {
    if fields.len() > MAX_POINTERS {
        return Err(Error::Usage(format!("at most {MAX_POINTERS} fields")));
    }
    let inputs = open_inputs(paths)?;
    let names = names(&inputs);
    let mut files: Vec<FileColumns> = names
        .iter()
        .map(|p| FileColumns { path: p.clone(), cells: vec![Vec::new(); fields.len()], ..FileColumns::default() })
        .collect();
    let pointers: Vec<Pointer> = fields.iter().map(|f| f.at.clone()).collect();
    let mut totals = Totals::default();
    run(
        &inputs,
        options,
        |chunk| {
            let mut parser = Parser::new(pointers.clone());
            chunk_columns(chunk, &mut parser, fields, options)
        },
        |chunk, (tally, part)| {
            let lines_before = totals.lines_before(chunk);
            totals.add(chunk, tally, &names, options)?;
            append(&mut files[chunk.file], part, lines_before);
            Ok(())
        },
    )?;
    Ok(ColumnsReport {
        files,
        records: totals.records,
        bytes: totals.bytes,
        malformed: totals.malformed,
        errors: totals.errors,
    })
}

/// The columns of one chunk's records; their line numbers count from the chunk's first line.
fn chunk_columns(chunk: &Chunk, parser: &mut Parser, fields: &[Field], options: &Options) -> (ChunkTally, FileColumns) {
    let mut out = FileColumns { cells: vec![Vec::new(); fields.len()], ..FileColumns::default() };
    let tally = each_record(chunk, parser, options, |parser, line| {
        out.lines.push(line.index + 1);
        out.offsets.push(chunk.offset + line.start as u64);
        add_record(&mut out, parser, fields, line.bytes);
        Ok(())
    });
    (tally, out)
}

/// Adds the length and the cells of the record `line`, which `parser` has just parsed.
fn add_record(out: &mut FileColumns, parser: &Parser, fields: &[Field], line: &[u8]) {
    out.lengths.push(line.len() as u64);
    for (i, field) in fields.iter().enumerate() {
        let cell = match (parser.found(i), &field.each) {
            (None, _) => Cell::Missing,
            (Some(span), None) => Cell::One(copy(&mut out.values, line, span)),
            (Some(span), Some(rest)) if line[span.start] == b'[' => Cell::Each(
                elements(line, span)
                    .into_iter()
                    .map(|element| lookup(line, element, rest).map(|v| copy(&mut out.values, line, v)))
                    .collect(),
            ),
            (Some(_), Some(_)) => Cell::Missing, // not an array: no elements to read
        };
        out.cells[i].push(cell);
    }
}

/// The columns of the records at `places` (byte offset, length) of one regular file, in that
/// order: what an index reads again of a few records it chose. Their line numbers are not
/// known: `lines` stays empty.
pub fn columns_at(path: &Path, places: &[(u64, u64)], fields: &[Field]) -> Result<FileColumns, Error> {
    if fields.len() > MAX_POINTERS {
        return Err(Error::Usage(format!("at most {MAX_POINTERS} fields")));
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut parser = Parser::new(fields.iter().map(|f| f.at.clone()).collect());
    let mut out =
        FileColumns { path: path.to_path_buf(), cells: vec![Vec::new(); fields.len()], ..FileColumns::default() };
    let mut buf = Vec::new();
    for &(offset, length) in places {
        buf.resize(length as usize, 0);
        file.read_exact_at(&mut buf, offset).map_err(|e| Error::io(path, e))?;
        parser.parse(&buf).map_err(|e| {
            Error::Usage(format!(
                "{}: the {length} bytes at offset {offset} are not one record: {}",
                path.display(),
                e.kind.message()
            ))
        })?;
        out.offsets.push(offset);
        add_record(&mut out, &parser, fields, &buf);
    }
    Ok(out)
}

/// The number of whitespace-separated words of the JSON string `value` (quotes included), as
/// Python's `str.split()` counts them in the decoded text; `None` for a value that is not a
/// string. Counting tokens the default way (harness.doctor.tokens) needs only this of a
/// message, and making a Python string of every message to split it costs far more. Counted
/// on the escaped text as it is (valid UTF-8, as the parser checked), nothing decoded into a
/// buffer: a word starts at each character that is not a space after one that is.
pub fn words(value: &[u8]) -> Option<u64> {
    if value.first() != Some(&b'"') {
        return None;
    }
    let body = &value[1..value.len() - 1];
    let (mut count, mut inside, mut i) = (0, false, 0);
    while i < body.len() {
        let (space, next) = space_at(body, i);
        count += u64::from(!inside && !space);
        inside = !space;
        i = next;
    }
    Some(count)
}

/// Whether the character at `body[i]` (an escape, or a UTF-8 sequence) is a space, and where the
/// next one starts.
fn space_at(body: &[u8], i: usize) -> (bool, usize) {
    match body[i] {
        b'\\' => match body[i + 1] {
            b'n' | b't' | b'r' | b'f' => (true, i + 2),
            b'u' => {
                let code = std::str::from_utf8(&body[i + 2..i + 6]).ok().and_then(|h| u32::from_str_radix(h, 16).ok());
                // A surrogate (half of a pair, or alone) is no space: neither is what it makes.
                (code.and_then(char::from_u32).is_some_and(is_python_space), i + 6)
            }
            _ => (false, i + 2),
        },
        b if b < 0x80 => (is_python_space(char::from(b)), i + 1),
        b => {
            let len = match b {
                0xF0.. => 4,
                0xE0.. => 3,
                _ => 2,
            };
            let c = body.get(i..i + len).and_then(|s| std::str::from_utf8(s).ok()).and_then(|s| s.chars().next());
            (c.is_some_and(is_python_space), i + len)
        }
    }
}

/// Python's whitespace (`str.isspace`): Unicode's White_Space and also the four separators
/// U+001C..U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Copies a value's text into `values`; its span there.
fn copy(values: &mut Vec<u8>, line: &[u8], span: Span) -> Span {
    let start = values.len();
    values.extend_from_slice(&line[span.start..span.end]);
    Span { start, end: values.len() }
}

fn append(file: &mut FileColumns, part: FileColumns, lines_before: u64) {
    let base = file.values.len();
    let shift = |s: Span| Span { start: s.start + base, end: s.end + base };
    file.lines.extend(part.lines.iter().map(|l| l + lines_before));
    file.offsets.extend(part.offsets);
    file.lengths.extend(part.lengths);
    file.values.extend(part.values);
    for (column, cells) in file.cells.iter_mut().zip(part.cells) {
        column.extend(cells.into_iter().map(|cell| match cell {
            Cell::Missing => Cell::Missing,
            Cell::One(s) => Cell::One(shift(s)),
            Cell::Each(items) => Cell::Each(items.into_iter().map(|i| i.map(shift)).collect()),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::OnError;
    use std::io::Write;

    fn text(file: &FileColumns, cell: &Cell) -> Vec<Option<String>> {
        let s = |sp: &Span| String::from_utf8(file.values[sp.start..sp.end].to_vec()).unwrap();
        match cell {
            Cell::Missing => vec![],
            Cell::One(sp) => vec![Some(s(sp))],
            Cell::Each(items) => items.iter().map(|i| i.as_ref().map(s)).collect(),
        }
    }

    fn write(data: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(data).unwrap();
        f
    }

    #[test]
    fn fields_with_a_star_read_every_element() {
        let f = Field::parse("/h/*/s").unwrap();
        assert_eq!(f.at.as_str(), "/h");
        assert_eq!(f.each.unwrap().as_str(), "/s");
        assert_eq!(Field::parse("/h/*").unwrap().each.unwrap().as_str(), "");
        assert!(Field::parse("/a/*/b/*").is_err());
        assert!(Field::parse("/a").unwrap().each.is_none());
        assert!(Field::parse("a/*").is_err());
    }

    #[test]
    fn places_and_values_of_every_record() {
        let data = b"\xEF\xBB\xBF{\"a\": 1, \"h\": [{\"s\": \"x\"}, 3, {\"s\": [1]}]}\r\n\n{\"h\": {\"s\": 1}}\n{\"a\": \"\\u00e9\", \"h\": []}";
        let f = write(data);
        let fields = [Field::parse("/a").unwrap(), Field::parse("/h/*/s").unwrap()];
        let options = Options { chunk_size: 8, ..Options::default() }; // a chunk per line
        let report = columns(&[f.path().to_path_buf()], &fields, &options).unwrap();
        let file = &report.files[0];
        assert_eq!(report.records, 3);
        assert_eq!(file.lines, vec![1, 3, 4]);
        for (offset, length) in file.offsets.iter().zip(&file.lengths) {
            let record = &data[*offset as usize..(*offset + *length) as usize];
            assert!(record.starts_with(b"{") && record.ends_with(b"}"));
        }
        assert_eq!(file.offsets[0], 3);
        let a: Vec<_> = file.cells[0].iter().map(|c| text(file, c)).collect();
        assert_eq!(a, vec![vec![Some("1".to_owned())], vec![], vec![Some("\"\\u00e9\"".to_owned())]]);
        let h: Vec<_> = file.cells[1].iter().map(|c| text(file, c)).collect();
        assert_eq!(h[0], vec![Some("\"x\"".to_owned()), None, Some("[1]".to_owned())]);
        assert_eq!(file.cells[1][1], Cell::Missing); // an object, not an array
        assert_eq!(file.cells[1][2], Cell::Each(vec![]));
    }

    #[test]
    fn records_at_places_are_read_again() {
        let data = b"{\"a\": [1, 2]}\n{\"a\": [3]}\n";
        let f = write(data);
        let fields = [Field::parse("/a/*").unwrap()];
        let file = columns_at(f.path(), &[(14, 10), (0, 13)], &fields).unwrap();
        assert_eq!(file.offsets, vec![14, 0]);
        assert_eq!(file.lengths, vec![10, 13]);
        assert!(file.lines.is_empty());
        let a: Vec<_> = file.cells[0].iter().map(|c| text(&file, c)).collect();
        assert_eq!(a, vec![vec![Some("3".to_owned())], vec![Some("1".to_owned()), Some("2".to_owned())]]);
        assert!(matches!(columns_at(f.path(), &[(1, 5)], &fields), Err(Error::Usage(_))));
    }

    #[test]
    fn words_are_counted_as_python_splits_them() {
        assert_eq!(words(br#""""#), Some(0));
        assert_eq!(words(br#"" a  b\t\n c ""#), Some(3));
        assert_eq!(words(br#""caf\u00e9\u00a0na\u00efve\u001fx\u200by""#), Some(3)); // U+200B: not a space
        assert_eq!(words("\"\u{3000}é\u{2003}\"".as_bytes()), Some(1));
        assert_eq!(words(b"12"), None);
        assert_eq!(words(br#"["a b"]"#), None);
    }

    #[test]
    fn malformed_lines_are_raised_or_left_out() {
        let f = write(b"{\"a\": 1}\n{\"a\": \n{\"a\": 3}\n");
        let fields = [Field::parse("/a").unwrap()];
        let paths = [f.path().to_path_buf()];
        match columns(&paths, &fields, &Options::default()) {
            Err(Error::Malformed(e)) => assert_eq!(e.line, 2),
            other => panic!("expected a malformed line, got {other:?}"),
        }
        let skip = Options { on_error: OnError::Skip, ..Options::default() };
        let report = columns(&paths, &fields, &skip).unwrap();
        assert_eq!((report.records, report.malformed), (2, 1));
        assert_eq!(report.files[0].lines, vec![1, 3]);
    }
}
