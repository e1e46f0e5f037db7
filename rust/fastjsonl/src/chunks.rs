//! Input files as newline-aligned chunks, and the lines of a chunk. Chunks let several threads
//! parse one file at once. Two ways to get them: `read_chunk`, where each parsing thread reads
//! its own byte range of a regular file (for the parallel operations), and `StreamChunks`,
//! which reads an input front to back (for streams, which have no byte ranges, and for
//! `ChunkStream`, a reader thread reading ahead of `read`, whose consumer builds Python
//! objects).

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use crate::error::Error;
use crate::input::{names, open_inputs, Input};

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

/// A byte range of one input file; its chunk holds the lines that start inside it.
#[derive(Clone, Copy, Debug)]
pub struct ByteRange {
    pub file: usize,
    pub start: u64,
    pub end: u64,
    /// The file's size when the ranges were planned: reading stops there.
    pub size: u64,
}

/// Where the chunks of one stretch of input come from.
#[derive(Clone, Copy, Debug)]
pub enum Piece {
    /// A byte range of a regular file, read by the task that parses it.
    Range(ByteRange),
    /// A whole stream (the input with this index), read front to back by one thread.
    Stream(usize),
}

/// Splits every regular file into ranges of about `chunk_size` bytes, in input order; a stream
/// is one piece.
pub fn plan(inputs: &[Input], chunk_size: usize) -> Vec<Piece> {
    let step = chunk_size.max(1) as u64;
    let mut pieces = Vec::new();
    for (file, input) in inputs.iter().enumerate() {
        let Some(size) = input.size else {
            pieces.push(Piece::Stream(file));
            continue;
        };
        let mut start = 0;
        loop {
            let end = (start + step).min(size);
            pieces.push(Piece::Range(ByteRange { file, start, end, size }));
            if end == size {
                break;
            }
            start = end;
        }
    }
    pieces
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

/// The chunks of one input read front to back: how streams are read, and how `read` reads
/// every input.
pub struct StreamChunks<'f> {
    file: &'f File,
    index: usize,
    chunk_size: usize,
    /// The start of a line the last chunk cut off, to begin the next one.
    carry: Vec<u8>,
    offset: u64,
    first: bool,
    finished: bool,
}

impl<'f> StreamChunks<'f> {
    /// The chunks of `file`, the input with index `index`.
    pub fn new(file: &'f File, index: usize, chunk_size: usize) -> StreamChunks<'f> {
        StreamChunks { file, index, chunk_size, carry: Vec::new(), offset: 0, first: true, finished: false }
    }

    /// The next chunk, read into `buf` (reused: buffers keep their length between uses, so
    /// refilling them never zeroes memory again), or `None` after the last one. The last
    /// chunk is the one where the input ends; it may be empty.
    pub fn next_chunk(&mut self, mut buf: Vec<u8>) -> io::Result<Option<Chunk>> {
        if self.finished {
            return Ok(None);
        }
        let want = self.chunk_size.max(self.carry.len() * 2).max(1);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        buf[..self.carry.len()].copy_from_slice(&self.carry);
        let mut filled = self.carry.len();
        let mut eof = false;
        let cut = loop {
            if filled == buf.len() {
                if let Some(nl) = memchr::memrchr(b'\n', &buf[..filled]) {
                    break nl + 1;
                }
                let bigger = buf.len() * 2; // one line longer than the buffer
                buf.resize(bigger, 0);
            }
            let n = match self.file.read(&mut buf[filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.finished = true;
                    return Err(e);
                }
            };
            if n == 0 {
                eof = true;
                break filled;
            }
            filled += n;
        };
        self.carry.clear();
        self.carry.extend_from_slice(&buf[cut..filled]);
        let chunk =
            Chunk { file: self.index, offset: self.offset, first: self.first, last: eof, buf, begin: 0, len: cut };
        self.offset += cut as u64;
        self.first = false;
        self.finished = eof;
        Ok(Some(chunk))
    }
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
        let inputs = open_inputs(paths)?;
        let names = names(&inputs);
        let (tx, rx) = mpsc::sync_channel(ahead.max(1));
        let (spare_tx, spare_rx) = mpsc::channel();
        let reader = std::thread::Builder::new()
            .name("fastjsonl-reader".into())
            .spawn(move || read_inputs(inputs, chunk_size, tx, spare_rx))
            .map_err(|e| Error::io(Path::new("<reader thread>"), e))?;
        Ok(ChunkStream { paths: names, chunks: Some(rx), spare: spare_tx, reader: Some(reader) })
    }

    /// The inputs' names, as errors give them (`<stdin>` for `-`).
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

/// Sends every input as chunks; stops at a read error (sent on) or when the consumer has gone.
fn read_inputs(
    inputs: Vec<Input>,
    chunk_size: usize,
    tx: SyncSender<Result<Chunk, (usize, io::Error)>>,
    spare: Receiver<Vec<u8>>,
) {
    for (index, input) in inputs.iter().enumerate() {
        let mut chunks = StreamChunks::new(&input.file, index, chunk_size);
        loop {
            let buf = spare.try_recv().unwrap_or_default();
            let item = match chunks.next_chunk(buf) {
                Ok(Some(chunk)) => Ok(chunk),
                Ok(None) => break,
                Err(e) => Err((index, e)),
            };
            let failed = item.is_err();
            if tx.send(item).is_err() || failed {
                return;
            }
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
        let mut rebuilt = [Vec::new(), Vec::new(), Vec::new()];
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
        let inputs = open_inputs(&paths).unwrap();
        for chunk_size in [1, 2, 3, 17, 64, 1000, 1 << 20] {
            let mut rebuilt = vec![Vec::new(); paths.len()];
            let mut lines = vec![0u64; paths.len()];
            for piece in plan(&inputs, chunk_size) {
                let chunk = match piece {
                    Piece::Range(range) => read_chunk(&inputs[range.file].file, range, Vec::new()).unwrap(),
                    // The empty file is a stream: its one chunk is empty and last.
                    Piece::Stream(file) => {
                        let mut chunks = StreamChunks::new(&inputs[file].file, file, chunk_size);
                        let chunk = chunks.next_chunk(Vec::new()).unwrap().unwrap();
                        assert!(chunk.last && chunk.data().is_empty());
                        assert!(chunks.next_chunk(Vec::new()).unwrap().is_none());
                        chunk
                    }
                };
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
    fn a_pipe_is_read_in_chunks_cut_at_newlines() {
        let (reader, mut writer) = crate::input::tests::pipe();
        let mut data = Vec::new();
        for i in 0..2000 {
            writeln!(data, "{{\"i\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 91)).unwrap();
        }
        data.extend_from_slice(b"{\"tail\":true}");
        let sent = data.clone();
        // Small writes, so reads return partial buffers as they do from a real producer.
        let producer = std::thread::spawn(move || sent.chunks(37).for_each(|piece| writer.write_all(piece).unwrap()));
        let mut chunks = StreamChunks::new(&reader, 3, 500);
        let mut rebuilt = Vec::new();
        let mut count = 0;
        while let Some(chunk) = chunks.next_chunk(Vec::new()).unwrap() {
            assert_eq!(chunk.file, 3);
            assert_eq!(chunk.offset as usize, rebuilt.len());
            assert_eq!(chunk.first, count == 0);
            if !chunk.last {
                assert!(chunk.data().ends_with(b"\n"));
            }
            rebuilt.extend_from_slice(chunk.data());
            count += 1;
        }
        producer.join().unwrap();
        assert_eq!(rebuilt, data);
        assert!(count > 10, "{count} chunks: the stream was cut at about the chunk size");
    }

    #[test]
    fn missing_file_is_reported_with_its_path() {
        let err = ChunkStream::open(&[PathBuf::from("/nonexistent/x.jsonl")], 64, 1).err().unwrap();
        assert!(err.to_string().contains("/nonexistent/x.jsonl"));
    }
}
