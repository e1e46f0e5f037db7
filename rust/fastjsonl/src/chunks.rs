//! Input files as newline-aligned chunks, and the lines of a chunk. Chunks let several threads
//! parse one file at once. Two ways to get them: `read_chunk`, where each parsing thread reads
//! its own byte range of a file (for the parallel operations), and `ChunkStream`, a reader
//! thread reading ahead of one consumer (for `read`, whose consumer builds Python objects).

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::thread::JoinHandle;

use crate::error::Error;

/// Target size of a chunk; a line longer than this makes its chunk longer. 1–4 MiB measure the
/// same on one or two threads; smaller chunks keep the memory of many threads down.
pub const CHUNK_SIZE: usize = 2 << 20;
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
    /// The chunk is `buf[begin..begin + len]`.
    begin: usize,
    len: usize,
}

impl Chunk {
    pub fn data(&self) -> &[u8] {
        &self.buf[self.begin..self.begin + self.len]
    }

    /// Gives the buffer back, to read another chunk into.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    #[cfg(test)]
    pub fn from_bytes(data: &[u8]) -> Chunk {
        Chunk { file: 0, offset: 0, first: true, last: true, buf: data.to_vec(), begin: 0, len: data.len() }
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

/// A byte range of one input file; its chunk holds the lines that start inside it.
#[derive(Clone, Copy, Debug)]
pub struct ByteRange {
    pub file: usize,
    pub start: u64,
    pub end: u64,
    /// The file's size when the ranges were planned: reading stops there.
    pub size: u64,
}

/// Splits every file into ranges of about `chunk_size` bytes, in input order; an empty file
/// gets one empty range.
pub fn plan_ranges(files: &[File], paths: &[PathBuf], chunk_size: usize) -> Result<Vec<ByteRange>, Error> {
    let step = chunk_size.max(1) as u64;
    let mut ranges = Vec::new();
    for (file, (handle, path)) in files.iter().zip(paths).enumerate() {
        let size = handle.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut start = 0;
        loop {
            let end = (start + step).min(size);
            ranges.push(ByteRange { file, start, end, size });
            if end == size {
                break;
            }
            start = end;
        }
    }
    Ok(ranges)
}

/// Reads the chunk of `range`: every line that starts in it, whole, however far past its end
/// the last one runs. `buf` is reused; its old length is kept so it is never zeroed again.
pub fn read_chunk(file: &File, range: ByteRange, mut buf: Vec<u8>) -> io::Result<Chunk> {
    // From one byte before the range: a line starts at `range.start` if that byte is a `\n`.
    let base = range.start.saturating_sub(1);
    let mut filled = read_into(file, &mut buf, 0, base, range.end - base)?;
    let begin = if range.start == 0 {
        0
    } else {
        match memchr::memchr(b'\n', &buf[..filled]) {
            Some(nl) if base + (nl as u64) + 1 < range.end => nl + 1,
            _ => filled, // no line starts inside the range: an empty chunk
        }
    };
    let mut end = filled;
    if begin < filled && buf[filled - 1] != b'\n' {
        // The last line runs past the range: read on to its `\n` (or the end of the file).
        let mut pos = range.end;
        loop {
            if pos >= range.size {
                end = filled;
                break;
            }
            let n = read_into(file, &mut buf, filled, pos, (range.size - pos).min(64 << 10))?;
            if let Some(nl) = memchr::memchr(b'\n', &buf[filled..filled + n]) {
                end = filled + nl + 1;
                break;
            }
            filled += n;
            pos += n as u64;
        }
    }
    // An empty chunk (no line starts in the range) is placed at the range's end.
    let offset = if begin == end { range.end } else { base + begin as u64 };
    Ok(Chunk {
        file: range.file,
        offset,
        first: offset == 0,
        last: offset + (end - begin) as u64 == range.size,
        buf,
        begin,
        len: end - begin,
    })
}

/// Reads exactly `n` bytes at file position `pos` into `buf[at..]`, growing `buf` if needed.
fn read_into(file: &File, buf: &mut Vec<u8>, at: usize, pos: u64, n: u64) -> io::Result<usize> {
    let n = n as usize;
    if buf.len() < at + n {
        buf.resize(at + n, 0);
    }
    file.read_exact_at(&mut buf[at..at + n], pos).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => io::Error::new(e.kind(), "the file shrank while it was being read"),
        _ => e,
    })?;
    Ok(n)
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
        let _ = self.spare.send(chunk.into_buffer());
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
        let chunk = Chunk { file: index, offset, first, last: eof, buf, begin: 0, len: cut };
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
    fn ranges_give_every_line_to_exactly_one_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let mut data = Vec::new();
        for i in 0..300 {
            writeln!(data, "{{\"i\":{i},\"pad\":\"{}\"}}", "x".repeat((i * 7) % 150)).unwrap();
        }
        data.extend_from_slice(b"{\"tail\":true}");
        let paths = [
            write(&dir, "a.jsonl", &data),
            write(&dir, "empty.jsonl", b""),
            write(&dir, "newline.jsonl", b"\n"),
            write(&dir, "b.jsonl", format!("{{\"long\":\"{}\"}}\n{{}}\n", "y".repeat(1000)).as_bytes()),
        ];
        let files = open_all(&paths).unwrap();
        for chunk_size in [1, 2, 3, 17, 64, 1000, 1 << 20] {
            let mut rebuilt = vec![Vec::new(); paths.len()];
            let mut lines = vec![0u64; paths.len()];
            for range in plan_ranges(&files, &paths, chunk_size).unwrap() {
                let chunk = read_chunk(&files[range.file], range, Vec::new()).unwrap();
                if !chunk.data().is_empty() {
                    assert_eq!(chunk.offset as usize, rebuilt[chunk.file].len(), "size {chunk_size}");
                }
                assert_eq!(chunk.first, chunk.offset == 0);
                if !chunk.last {
                    assert!(chunk.data().is_empty() || chunk.data().ends_with(b"\n"));
                }
                lines[chunk.file] += count_lines(&chunk);
                rebuilt[chunk.file].extend_from_slice(chunk.data());
            }
            for (i, path) in paths.iter().enumerate() {
                let want = std::fs::read(path).unwrap();
                assert_eq!(rebuilt[i], want, "file {i}, chunk size {chunk_size}");
                assert_eq!(lines[i], count_lines(&Chunk::from_bytes(&want)), "file {i}, chunk size {chunk_size}");
            }
        }
    }

    #[test]
    fn missing_file_is_reported_with_its_path() {
        let err = ChunkStream::open(&[PathBuf::from("/nonexistent/x.jsonl")], 64, 1).err().unwrap();
        assert!(err.to_string().contains("/nonexistent/x.jsonl"));
    }
}
