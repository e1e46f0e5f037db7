//! Every operation on streams (real FIFOs fed by a writer thread, and `/proc` files) gives what
//! it gives on the same bytes in a regular file, with errors located the same way; and an
//! output that would hold no record is not written unless asked for.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use fastjsonl::count::count_by;
use fastjsonl::dedup::{dedup, DedupSpec, Keep, Missing};
use fastjsonl::error::Error;
use fastjsonl::filter::{filter, Condition, Op};
use fastjsonl::keys::ScoreSpec;
use fastjsonl::pipeline::Options;
use fastjsonl::pointer::Pointer;
use fastjsonl::scan::scan;
use fastjsonl::split::{split, SplitSpec};
use fastjsonl::value::Operand;

/// A FIFO at `path` that a thread fills with `data` in small writes, as a producer would.
fn fifo(path: &Path, data: Vec<u8>) -> JoinHandle<()> {
    let name = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `name` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
    let path = path.to_owned();
    std::thread::spawn(move || {
        let mut writer = File::options().write(true).open(&path).unwrap();
        for piece in data.chunks(4093) {
            // The reader may stop early (at an error): a broken pipe is then expected.
            if writer.write_all(piece).is_err() {
                return;
            }
        }
    })
}

fn episodes(n: usize) -> Vec<u8> {
    let mut data = Vec::new();
    for i in 0..n {
        let steps: Vec<String> = (0..i % 4)
            .map(|s| format!("{{\"type\":\"{}\",\"n\":{s}}}", if s % 2 == 1 { "search_result" } else { "think" }))
            .collect();
        writeln!(
            data,
            "{{\"task\":{{\"id\":{}}},\"reward\":{},\"ok\":{},\"trace\":[{}]}}",
            i % 97,
            (i * 31) % 101,
            i % 3 == 0,
            steps.join(",")
        )
        .unwrap();
    }
    data
}

/// Small chunks and two threads, so a stream is cut into many chunks parsed in parallel.
fn options() -> Options {
    Options { threads: 2, chunk_size: 1000, ..Options::default() }
}

struct Case {
    dir: tempfile::TempDir,
    regular: PathBuf,
    data: Vec<u8>,
}

impl Case {
    fn new(data: Vec<u8>) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let regular = dir.path().join("regular.jsonl");
        fs::write(&regular, &data).unwrap();
        Case { dir, regular, data }
    }

    /// A fresh FIFO holding the same bytes as the regular file.
    fn stream(&self, name: &str) -> (PathBuf, JoinHandle<()>) {
        let path = self.dir.path().join(name);
        let writer = fifo(&path, self.data.clone());
        (path, writer)
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

#[test]
fn scan_of_a_fifo_counts_what_the_regular_file_holds() {
    let case = Case::new(episodes(3000));
    let (path, writer) = case.stream("scan.fifo");
    let streamed = scan(std::slice::from_ref(&path), &options()).unwrap();
    writer.join().unwrap();
    let regular = scan(std::slice::from_ref(&case.regular), &options()).unwrap();
    assert_eq!(streamed.records, 3000);
    assert_eq!(streamed.bytes, case.data.len() as u64);
    assert_eq!(streamed.files[0].path, path);
    assert_eq!(
        (streamed.records, streamed.bytes, streamed.malformed),
        (regular.records, regular.bytes, regular.malformed)
    );
}

#[test]
fn malformed_lines_of_a_stream_are_located_by_line_and_column() {
    let mut data = episodes(500);
    data.extend_from_slice(b"{\"task\":{\"id\":1},\"reward\":,}\n");
    data.extend_from_slice(&episodes(500));
    let case = Case::new(data);
    let (path, writer) = case.stream("bad.fifo");
    let err = count_by(std::slice::from_ref(&path), &Pointer::parse("/task/id").unwrap(), &options()).err().unwrap();
    writer.join().unwrap();
    let Error::Malformed(e) = err else { panic!("not a line error: {err}") };
    assert_eq!((e.path.as_str(), e.line, e.column), (path.to_str().unwrap(), 501, 27));
    let want =
        count_by(std::slice::from_ref(&case.regular), &Pointer::parse("/task/id").unwrap(), &options()).err().unwrap();
    let Error::Malformed(want) = want else { panic!() };
    assert_eq!((e.line, e.column, e.byte_offset), (want.line, want.column, want.byte_offset));
}

#[test]
fn count_by_of_a_fifo_and_a_file_together() {
    let case = Case::new(episodes(2000));
    let (path, writer) = case.stream("count.fifo");
    let key = Pointer::parse("/task/id").unwrap();
    let both = count_by(&[case.regular.clone(), path], &key, &options()).unwrap();
    writer.join().unwrap();
    let once = count_by(std::slice::from_ref(&case.regular), &key, &options()).unwrap();
    assert_eq!(both.records, 4000);
    let doubled: Vec<_> = once.counts.iter().map(|(k, n)| (k.clone(), n * 2)).collect();
    assert_eq!(both.counts, doubled);
}

#[test]
fn dedup_of_a_fifo_writes_the_winning_lines_byte_for_byte() {
    let case = Case::new(episodes(3000));
    let spec = DedupSpec {
        key: Pointer::parse("/task/id").unwrap(),
        scores: vec![ScoreSpec::parse("/reward").unwrap()],
        keep: Keep::Best,
        missing: Missing::Error,
    };
    let (path, writer) = case.stream("dedup.fifo");
    let streamed = dedup(&[path], &case.out("streamed.jsonl"), &spec, &options()).unwrap();
    writer.join().unwrap();
    let regular =
        dedup(std::slice::from_ref(&case.regular), &case.out("from_regular.jsonl"), &spec, &options()).unwrap();
    assert_eq!((streamed.records, streamed.written), (3000, 97));
    assert_eq!(streamed.written, regular.written);
    assert_eq!(fs::read(case.out("streamed.jsonl")).unwrap(), fs::read(case.out("from_regular.jsonl")).unwrap());
    let left: Vec<_> = fs::read_dir(case.dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 4, "the fifo, the regular input and two outputs; no scratch file: {left:?}");
}

#[test]
fn filter_and_split_of_a_fifo_match_the_regular_file() {
    let case = Case::new(episodes(2500));
    let conditions =
        [Condition { pointer: Pointer::parse("/ok").unwrap(), op: Op::Eq, operands: vec![Operand::Bool(true)] }];
    let (path, writer) = case.stream("filter.fifo");
    let streamed = filter(&[path], &case.out("f1.jsonl"), &conditions, &options()).unwrap();
    writer.join().unwrap();
    filter(std::slice::from_ref(&case.regular), &case.out("f2.jsonl"), &conditions, &options()).unwrap();
    assert_eq!(streamed.written, 834);
    assert_eq!(fs::read(case.out("f1.jsonl")).unwrap(), fs::read(case.out("f2.jsonl")).unwrap());

    let spec = SplitSpec {
        steps: Pointer::parse("/trace").unwrap(),
        on: Pointer::parse("/type").unwrap(),
        on_value: Operand::Str(b"search_result".to_vec()),
        carry: vec![("id".into(), Pointer::parse("/task/id").unwrap())],
        keep_empty: true,
        missing: Missing::Error,
    };
    let (path, writer) = case.stream("split.fifo");
    let streamed = split(&[path], &case.out("s1.jsonl"), &spec, &options()).unwrap();
    writer.join().unwrap();
    let regular = split(std::slice::from_ref(&case.regular), &case.out("s2.jsonl"), &spec, &options()).unwrap();
    assert!(streamed.written > 1000);
    assert_eq!(streamed.written, regular.written);
    assert_eq!(fs::read(case.out("s1.jsonl")).unwrap(), fs::read(case.out("s2.jsonl")).unwrap());
}

#[test]
fn a_proc_file_is_read_not_taken_as_empty() {
    // /proc files report a size of 0; every line of this one is text, not JSON.
    let path = PathBuf::from("/proc/self/mountinfo");
    let lines = fs::read_to_string(&path).unwrap().lines().count() as u64;
    let report = scan(&[path], &options()).unwrap();
    assert!(lines > 0);
    assert_eq!((report.records, report.malformed), (0, lines));
    assert_eq!(report.errors[0].line, 1);
}

#[test]
fn an_empty_output_is_written_only_when_allowed() {
    let case = Case::new(episodes(100));
    let nothing =
        [Condition { pointer: Pointer::parse("/reward").unwrap(), op: Op::Gt, operands: vec![Operand::Int(1000)] }];
    let target = case.out("kept.jsonl");
    fs::write(&target, b"{\"old\":true}\n").unwrap();
    let strict = Options { allow_empty: false, ..options() };
    let report = filter(std::slice::from_ref(&case.regular), &target, &nothing, &strict).unwrap();
    assert_eq!((report.records, report.written), (100, 0));
    assert_eq!(fs::read(&target).unwrap(), b"{\"old\":true}\n", "the old output is left as it was");

    let spec = DedupSpec {
        key: Pointer::parse("/task/id").unwrap(),
        scores: vec![],
        keep: Keep::First,
        missing: Missing::Skip,
    };
    let empty = case.out("empty.jsonl");
    fs::write(&empty, b"").unwrap();
    let report = dedup(std::slice::from_ref(&empty), &case.out("d.jsonl"), &spec, &strict).unwrap();
    assert_eq!(report.written, 0);
    assert!(!case.out("d.jsonl").exists());
    dedup(&[empty], &case.out("d.jsonl"), &spec, &options()).unwrap();
    assert_eq!(fs::read(case.out("d.jsonl")).unwrap(), b"");
    filter(std::slice::from_ref(&case.regular), &target, &nothing, &options()).unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"");
    let leftovers = fs::read_dir(case.dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
        .count();
    assert_eq!(leftovers, 0, "no temporary file left");
}
