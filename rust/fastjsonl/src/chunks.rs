//! Reading input files as newline-aligned chunks on a reader thread, and walking the lines of
//! a chunk. Chunks let several threads parse one file at once; the reader thread lets the
//! disk work while they do.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::thread::JoinHandle;

use crate::error::Error;

/// Target size of a chunk; a line longer than this makes its chunk longer.
pub const CHUNK_SIZE: usize = 4 << 20;
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A run of whole lines from one file.
pub struct Chunk {
    /// Index of the file in the input list.
    pub file: usize,
    /// Byte offset in the file of the chunk's first byte.
    pub offset: u64,
    /// Whether the chunk starts at the beginning of its file (where a BOM may be).
    pub first: bool,
    /// Whether the chunk ends at the end of its file (where the last line may lack `\n`).
    pub last: bool,
    buf: Vec<u8>,
    len: usize,
}

impl Chunk {
    pub fn data(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    #[cfg(test)]
    pub fn from_bytes(data: &[u8]) -> Chunk {
        Chunk { file: 0, offset: 0, first: true, last: true, buf: data.to_vec(), len: data.len() }
    }

    /// The lines of the chunk, without their `\n` or `\r\n`; a BOM at the start of the file is
    /// skipped.
    pub fn lines(&self) -> Lines<'_> {
        let data = self.data();
        let pos = if self.first && data.starts_with(BOM) { BOM.len() } else { 0 };
        Lines { data, pos, index: 0, last_chunk: self.last }
    }
}

/// One line of a chunk.
pub struct Line<'a> {
    pub bytes: &'a [u8],
    /// Offset of `bytes` in the chunk.
    pub start: usize,
    /// 0-based index of the line within the chunk.
    pub index: u64,
    pub crlf: bool,
    /// The last line of the file, with no `\n` after it.
    pub unterminated: bool,
}

impl Line<'_> {
    /// Blank lines hold only spaces, tabs or carriage returns.
    pub fn is_blank(&self) -> bool {
        self.bytes.iter().all(|&b| matches!(b, b' ' | b'\t' | b'\r'))
    }
}

pub struct Lines<'a> {
    data: &'a [u8],
    pos: usize,
    index: u64,
    last_chunk: bool,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        if self.pos >= self.data.len() {
            return None;
        }
        let start = self.pos;
        let (mut end, unterminated) = match memchr::memchr(b'\n', &self.data[start..]) {
            Some(n) => (start + n, false),
            None => (self.data.len(), true),
        };
        self.pos = if unterminated { end } else { end + 1 };
        debug_assert!(!unterminated || self.last_chunk, "only a file's last chunk may end without \\n");
        let crlf = end > start && self.data[end - 1] == b'\r';
        if crlf {
            end -= 1;
        }
        let index = self.index;
        self.index += 1;
        Some(Line { bytes: &self.data[start..end], start, index, crlf, unterminated })
    }
}

/// Number of lines in a chunk: its `\n`s, plus an unterminated last line.
pub fn count_lines(chunk: &Chunk) -> u64 {
    let data = chunk.data();
    let newlines = memchr::memchr_iter(b'\n', data).count() as u64;
    newlines + u64::from(!data.is_empty() && !data.ends_with(b"\n"))
}

/// Opens every input first, so a missing file is reported before any work starts.
pub fn open_all(paths: &[PathBuf]) -> Result<Vec<File>, Error> {
    paths
        .iter()
        .map(|p| {
            let file = File::open(p).map_err(|e| Error::io(p, e))?;
            if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                return Err(Error::io(p, io::Error::new(io::ErrorKind::InvalidInput, "is a directory")));
            }
            Ok(file)
        })
        .collect()
}

/// Chunks of all inputs in order, read ahead by a background thread. Buffers handed back with
/// `recycle` are reused, so a long run allocates a handful of them.
pub struct ChunkStream {
    paths: Vec<PathBuf>,
    chunks: Option<Receiver<Result<Chunk, (usize, io::Error)>>>,
    spare: Sender<Vec<u8>>,
    reader: Option<JoinHandle<()>>,
}

impl ChunkStream {
    /// Starts reading `paths` with `ahead` chunks read ahead of the consumer.
    pub fn open(paths: &[PathBuf], chunk_size: usize, ahead: usize) -> Result<ChunkStream, Error> {
        let files = open_all(paths)?;
        let (tx, rx) = mpsc::sync_channel(ahead.max(1));
        let (spare_tx, spare_rx) = mpsc::channel();
        let reader = std::thread::Builder::new()
            .name("fastjsonl-reader".into())
            .spawn(move || read_files(files, chunk_size, tx, spare_rx))
            .map_err(|e| Error::io(Path::new("<reader thread>"), e))?;
        Ok(ChunkStream { paths: paths.to_vec(), chunks: Some(rx), spare: spare_tx, reader: Some(reader) })
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Hands a consumed chunk's buffer back to the reader.
    pub fn recycle(&self, chunk: Chunk) {
        let _ = self.spare.send(chunk.buf);
    }
}

impl Iterator for ChunkStream {
    type Item = Result<Chunk, Error>;

    fn next(&mut self) -> Option<Result<Chunk, Error>> {
        let item = self.chunks.as_ref()?.recv().ok()?;
        Some(item.map_err(|(file, e)| Error::io(&self.paths[file], e)))
    }
}

impl Drop for ChunkStream {
    fn drop(&mut self) {
        // Closing the channel makes a reader blocked on a full queue stop at once.
        drop(self.chunks.take());
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn read_files(
    files: Vec<File>,
    chunk_size: usize,
    tx: SyncSender<Result<Chunk, (usize, io::Error)>>,
    spare: Receiver<Vec<u8>>,
) {
    for (index, file) in files.into_iter().enumerate() {
        if let Err(e) = read_file(index, file, chunk_size, &tx, &spare) {
            let _ = tx.send(Err((index, e)));
            return;
        }
    }
}

/// Sends one file as chunks; returns early (Ok) when the consumer has gone away.
fn read_file(
    index: usize,
    mut file: File,
    chunk_size: usize,
    tx: &SyncSender<Result<Chunk, (usize, io::Error)>>,
    spare: &Receiver<Vec<u8>>,
) -> io::Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    let mut offset: u64 = 0;
    let mut first = true;
    loop {
        let mut buf = match spare.try_recv() {
            Ok(buf) => buf,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Vec::new(),
        };
        // Buffers keep their length between uses, so refilling them never zeroes memory again.
        let want = chunk_size.max(carry.len() * 2);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        buf[..carry.len()].copy_from_slice(&carry);
        let mut filled = carry.len();
        let mut eof = false;
        let cut = loop {
            if filled == buf.len() {
                if let Some(nl) = memchr::memrchr(b'\n', &buf[..filled]) {
                    break nl + 1;
                }
                let bigger = buf.len() * 2; // one line longer than the buffer
                buf.resize(bigger, 0);
            }
            let n = match file.read(&mut buf[filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                eof = true;
                break filled;
            }
            filled += n;
        };
        carry.clear();
        carry.extend_from_slice(&buf[cut..filled]);
        let chunk = Chunk { file: index, offset, first, last: eof, buf, len: cut };
        offset += cut as u64;
        first = false;
        if tx.send(Ok(chunk)).is_err() {
            return Ok(());
        }
        if eof {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        File::create(&path).unwrap().write_all(data).unwrap();
        path
    }

    #[test]
    fn lines_handle_bom_crlf_and_unterminated_end() {
        let chunk = Chunk::from_bytes(b"\xEF\xBB\xBF{}\r\n\n  \r\n{\"a\":1}");
        let lines: Vec<_> = chunk.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].bytes, b"{}");
        assert_eq!(lines[0].start, 3);
        assert!(lines[0].crlf);
        assert!(lines[1].is_blank() && lines[2].is_blank());
        assert!(lines[3].unterminated);
        assert_eq!(count_lines(&chunk), 4);
    }

    #[test]
    fn stream_cuts_at_newlines_and_covers_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let mut data = Vec::new();
        for i in 0..500 {
            writeln!(data, "{{\"i\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 37)).unwrap();
        }
        data.extend_from_slice(b"{\"tail\":true}");
        let a = write(&dir, "a.jsonl", &data);
        let b = write(&dir, "b.jsonl", b"");
        let long = format!("{{\"long\":\"{}\"}}\n{{}}\n", "y".repeat(1000));
        let c = write(&dir, "c.jsonl", long.as_bytes());
        let stream = ChunkStream::open(&[a, b, c], 64, 2).unwrap();
        let mut rebuilt = vec![Vec::new(), Vec::new(), Vec::new()];
        let mut seen_last = [false; 3];
        for chunk in stream {
            let chunk = chunk.unwrap();
            assert_eq!(chunk.offset as usize, rebuilt[chunk.file].len());
            assert_eq!(chunk.first, chunk.offset == 0);
            if !chunk.last {
                assert!(chunk.data().ends_with(b"\n"));
            }
            seen_last[chunk.file] |= chunk.last;
            rebuilt[chunk.file].extend_from_slice(chunk.data());
        }
        assert_eq!(rebuilt[0], data);
        assert!(rebuilt[1].is_empty());
        assert_eq!(rebuilt[2], long.as_bytes());
        assert_eq!(seen_last, [true; 3]);
    }

    #[test]
    fn missing_file_is_reported_with_its_path() {
        let err = ChunkStream::open(&[PathBuf::from("/nonexistent/x.jsonl")], 64, 1).err().unwrap();
        assert!(err.to_string().contains("/nonexistent/x.jsonl"));
    }
}
