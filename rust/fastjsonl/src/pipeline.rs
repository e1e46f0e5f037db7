//! The shape every operation shares: chunks parsed in parallel by a thread pool, their results
//! consumed in input order on the calling thread, and malformed lines raised, skipped or
//! collected as the caller asked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{mpsc, Mutex};

use crate::chunks::{count_lines, plan, read_chunk, Chunk, Line, Piece, StreamChunks, CHUNK_SIZE};
use crate::error::{Error, LineError, Problem};
use crate::input::Input;
use crate::parse::Parser;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    Raise,
    Skip,
    Collect,
}

impl OnError {
    pub fn parse(text: &str) -> Result<OnError, Error> {
        match text {
            "raise" => Ok(OnError::Raise),
            "skip" => Ok(OnError::Skip),
            "collect" => Ok(OnError::Collect),
            other => Err(Error::Usage(format!("errors must be 'raise', 'skip' or 'collect', not {other:?}"))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Parsing threads; 0 means one per core.
    pub threads: usize,
    pub on_error: OnError,
    /// How many errors `Collect` keeps (all are counted).
    pub max_errors: usize,
    pub chunk_size: usize,
    /// Write an output that holds no record. When false, such an output is not written (a
    /// file already at the target is left as it was); the report's `written` says 0.
    pub allow_empty: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { threads: 0, on_error: OnError::Raise, max_errors: 1000, chunk_size: CHUNK_SIZE, allow_empty: true }
    }
}

impl Options {
    /// The number of worker threads `threads` stands for.
    pub fn worker_threads(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.threads
        }
    }

    fn pool(&self) -> Result<rayon::ThreadPool, Error> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .thread_name(|i| format!("fastjsonl-{i}"))
            .build()
            .map_err(|e| Error::Usage(format!("cannot start worker threads: {e}")))
    }

    /// How many problems a chunk needs to keep: the first one when raising, up to
    /// `max_errors` when collecting, none when skipping (they are only counted).
    fn keep_problems(&self) -> usize {
        match self.on_error {
            OnError::Raise => 1,
            OnError::Skip => 0,
            OnError::Collect => self.max_errors,
        }
    }
}

/// What one chunk's worker found, besides the operation's own output.
#[derive(Debug, Default)]
pub struct ChunkTally {
    pub lines: u64,
    pub records: u64,
    pub blank_lines: u64,
    pub crlf_lines: u64,
    pub malformed: u64,
    pub problems: Vec<Problem>,
    /// The first valid record lacking a field the operation was told to insist on.
    pub missing: Option<Problem>,
    keep: usize,
}

/// Why a record handler turned a valid line down.
pub enum Reject {
    /// A value of the wrong type: the line counts as malformed.
    Malformed(Problem),
    /// A required field is absent: always an error, whatever `on_error` says.
    Missing(Problem),
}

impl From<Problem> for Reject {
    fn from(p: Problem) -> Reject {
        Reject::Malformed(p)
    }
}

impl ChunkTally {
    pub fn problem(&mut self, problem: Problem) {
        self.malformed += 1;
        if self.problems.len() < self.keep {
            self.problems.push(problem);
        }
    }
}

/// Parses every non-blank line of `chunk`, handing valid records to `record`, which may reject
/// one by returning a problem (a key of the wrong type, say).
pub fn each_record(
    chunk: &Chunk,
    parser: &mut Parser,
    options: &Options,
    mut record: impl FnMut(&Parser, &Line<'_>) -> Result<(), Reject>,
) -> ChunkTally {
    let mut tally = ChunkTally { keep: options.keep_problems(), ..ChunkTally::default() };
    for line in chunk.lines() {
        tally.lines += 1;
        tally.crlf_lines += u64::from(line.crlf);
        if line.is_blank() {
            tally.blank_lines += 1;
            continue;
        }
        match parser.parse(line.bytes) {
            Err(e) => tally.problem(Problem::syntax(chunk, &line, &e)),
            Ok(()) => match record(parser, &line) {
                Ok(()) => tally.records += 1,
                Err(Reject::Malformed(p)) => tally.problem(p),
                Err(Reject::Missing(p)) => {
                    tally.records += 1;
                    tally.missing.get_or_insert(p);
                }
            },
        }
    }
    debug_assert_eq!(tally.lines, count_lines(chunk));
    tally
}

/// Running totals of the consumer, in input order; turns chunk problems into located errors.
#[derive(Debug, Default)]
pub struct Totals {
    pub records: u64,
    pub bytes: u64,
    pub blank_lines: u64,
    pub malformed: u64,
    pub errors: Vec<LineError>,
    current_file: Option<usize>,
    lines_before: u64,
}

impl Totals {
    /// Lines of `chunk`'s file that come before it.
    pub fn lines_before(&self, chunk: &Chunk) -> u64 {
        if self.current_file == Some(chunk.file) {
            self.lines_before
        } else {
            0
        }
    }

    /// Adds a chunk's tally; in `Raise` mode the first malformed line becomes the error.
    pub fn add(&mut self, chunk: &Chunk, tally: ChunkTally, paths: &[PathBuf], options: &Options) -> Result<(), Error> {
        if self.current_file != Some(chunk.file) {
            self.current_file = Some(chunk.file);
            self.lines_before = 0;
        }
        let path = &paths[chunk.file];
        if let Some(missing) = tally.missing {
            let malformed_first = options.on_error == OnError::Raise
                && tally.problems.first().is_some_and(|p| p.line_in_chunk < missing.line_in_chunk);
            if !malformed_first {
                return Err(Error::Malformed(missing.locate(path, self.lines_before)));
            }
        }
        if options.on_error == OnError::Raise {
            if let Some(problem) = tally.problems.into_iter().next() {
                return Err(Error::Malformed(problem.locate(path, self.lines_before)));
            }
        } else {
            for problem in tally.problems {
                if self.errors.len() < options.max_errors {
                    self.errors.push(problem.locate(path, self.lines_before));
                }
            }
        }
        self.records += tally.records;
        self.bytes += chunk.data().len() as u64;
        self.blank_lines += tally.blank_lines;
        self.malformed += tally.malformed;
        self.lines_before += tally.lines;
        Ok(())
    }
}

/// Runs `work` on every chunk of `inputs` in parallel and `consume` on the results in input
/// order. Stops at the first error `consume` returns, or at a read error. Each task reads its
/// own chunk of a regular file (see `read_chunk`): no reader thread to feed the parsers, so one
/// thread is really one, and nothing limits how many threads can read at once. A stream has
/// no byte ranges: this thread reads it front to back and hands each chunk to a task. At most
/// twice as many chunks as threads are in memory at once, however large the input.
pub fn run<T, W, C>(inputs: &[Input], options: &Options, work: W, consume: C) -> Result<(), Error>
where
    T: Send,
    W: Fn(&Chunk) -> T + Sync,
    C: FnMut(&Chunk, T) -> Result<(), Error>,
{
    let pool = options.pool()?;
    let window = pool.current_num_threads() * 2;
    let paths = crate::input::names(inputs);
    let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let (done_tx, done_rx) = mpsc::channel::<(usize, ChunkResult<T>)>();
    let mut order = InOrder { pending: BTreeMap::new(), next: 0, consume, result: Ok(()), paths: &paths };
    let (work, spare) = (&work, &spare);
    pool.in_place_scope(|scope| {
        let mut sent = 0;
        'pieces: for piece in plan(inputs, options.chunk_size) {
            match piece {
                Piece::Range(range) => {
                    if order.result.is_err() {
                        break;
                    }
                    order.wait_below(sent, window, &done_rx, spare);
                    let done = done_tx.clone();
                    let index = sent;
                    let file = &inputs[range.file].file;
                    scope.spawn(move |_| {
                        let buffer = spare.lock().expect("buffer list").pop().unwrap_or_default();
                        let result = read_chunk(file, range, buffer).map(|chunk| {
                            let out = work(&chunk);
                            (chunk, out)
                        });
                        let _ = done.send((index, result.map_err(|e| (range.file, e))));
                    });
                    sent += 1;
                }
                Piece::Stream(file) => {
                    let mut chunks = StreamChunks::new(&inputs[file].file, file, options.chunk_size);
                    loop {
                        if order.result.is_err() {
                            break 'pieces;
                        }
                        order.wait_below(sent, window, &done_rx, spare);
                        let buffer = spare.lock().expect("buffer list").pop().unwrap_or_default();
                        let index = sent;
                        match chunks.next_chunk(buffer) {
                            Ok(None) => break,
                            Ok(Some(chunk)) => {
                                let done = done_tx.clone();
                                scope.spawn(move |_| {
                                    let out = work(&chunk);
                                    let _ = done.send((index, Ok((chunk, out))));
                                });
                                sent += 1;
                            }
                            Err(e) => {
                                // Reported in order, after the chunks read before it.
                                let _ = done_tx.send((index, Err((file, e))));
                                sent += 1;
                                break 'pieces;
                            }
                        }
                    }
                }
            }
        }
        while order.next < sent {
            order.settle(done_rx.recv().expect("a worker always reports back"), spare);
        }
    });
    order.result
}

/// A chunk and what `work` made of it, or the read error of the file with that index.
type ChunkResult<T> = Result<(Chunk, T), (usize, std::io::Error)>;

/// Puts finished chunks back in input order before consuming them.
struct InOrder<'p, T, C> {
    pending: BTreeMap<usize, ChunkResult<T>>,
    next: usize,
    consume: C,
    result: Result<(), Error>,
    paths: &'p [PathBuf],
}

impl<T, C: FnMut(&Chunk, T) -> Result<(), Error>> InOrder<'_, T, C> {
    /// Settles finished chunks until fewer than `limit` of the `sent` are outstanding.
    fn wait_below(
        &mut self,
        sent: usize,
        limit: usize,
        rx: &mpsc::Receiver<(usize, ChunkResult<T>)>,
        spare: &Mutex<Vec<Vec<u8>>>,
    ) {
        while sent - self.next >= limit {
            self.settle(rx.recv().expect("a worker always reports back"), spare);
        }
    }

    fn settle(&mut self, (index, done): (usize, ChunkResult<T>), spare: &Mutex<Vec<Vec<u8>>>) {
        self.pending.insert(index, done);
        while let Some(done) = self.pending.remove(&self.next) {
            self.next += 1;
            match done {
                Ok((chunk, out)) => {
                    if self.result.is_ok() {
                        self.result = (self.consume)(&chunk, out);
                    }
                    spare.lock().expect("buffer list").push(chunk.into_buffer());
                }
                Err((file, e)) => {
                    if self.result.is_ok() {
                        self.result = Err(Error::io(&self.paths[file], e));
                    }
                }
            }
        }
    }
}
