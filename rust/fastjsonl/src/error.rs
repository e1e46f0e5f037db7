//! Errors: a malformed line (with everything needed to find it), an I/O failure naming its
//! file, or a bad argument.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::chunks::{Chunk, Line};
use crate::parse::{SyntaxError, SyntaxErrorKind};

/// A line that is not a valid record, located in its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub path: String,
    /// 1-based line number.
    pub line: u64,
    /// 1-based column, in characters.
    pub column: u64,
    /// Byte offset of the error in the file.
    pub byte_offset: u64,
    pub reason: String,
    /// The text of the line around the error.
    pub snippet: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.path, self.line, self.column, self.reason)
    }
}

#[derive(Debug)]
pub enum Error {
    Io { path: PathBuf, source: io::Error },
    Malformed(LineError),
    Usage(String),
}

impl Error {
    pub fn io(path: &Path, source: io::Error) -> Error {
        Error::Io { path: path.to_owned(), source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {}", path.display(), source),
            Error::Malformed(e) => e.fmt(f),
            Error::Usage(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {}

/// Where in a line something went wrong and why; the line number is filled in later, once the
/// lines of the chunks before are counted.
#[derive(Clone, Debug)]
pub struct Problem {
    pub line_in_chunk: u64,
    pub column: u64,
    pub byte_offset: u64,
    pub reason: String,
    pub snippet: String,
}

impl Problem {
    /// A problem at byte `at` of `line`.
    pub fn at(chunk: &Chunk, line: &Line<'_>, at: usize, reason: String) -> Problem {
        let bytes = line.bytes;
        let at = at.min(bytes.len());
        let column = String::from_utf8_lossy(&bytes[..at]).chars().count() as u64 + 1;
        Problem {
            line_in_chunk: line.index,
            column,
            byte_offset: chunk.offset + (line.start + at) as u64,
            reason,
            snippet: snippet(bytes, at),
        }
    }

    /// A syntax error, named `truncated last line` when the file ends inside the record.
    pub fn syntax(chunk: &Chunk, line: &Line<'_>, e: &SyntaxError) -> Problem {
        let reason = if line.unterminated && e.kind == SyntaxErrorKind::UnexpectedEnd {
            "truncated last line".to_owned()
        } else {
            e.kind.message()
        };
        Problem::at(chunk, line, e.offset, reason)
    }

    pub fn locate(self, path: &Path, lines_before: u64) -> LineError {
        LineError {
            path: path.display().to_string(),
            line: lines_before + self.line_in_chunk + 1,
            column: self.column,
            byte_offset: self.byte_offset,
            reason: self.reason,
            snippet: self.snippet,
        }
    }
}

/// Up to 40 bytes either side of `at`, decoded leniently.
fn snippet(bytes: &[u8], at: usize) -> String {
    const SIDE: usize = 40;
    let start = at.saturating_sub(SIDE);
    let end = (at + SIDE).min(bytes.len());
    let mut text = String::from_utf8_lossy(&bytes[start..end]).into_owned();
    if start > 0 {
        text.insert(0, '…');
    }
    if end < bytes.len() {
        text.push('…');
    }
    text
}
