//! Opening the inputs: regular files, which are read in byte ranges by many threads at once,
//! and streams (pipes, FIFOs, `<(…)`, terminals, sockets, `/proc` files, stdin as `-`), which
//! can only be read front to back, once.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The input name that stands for standard input.
pub const STDIN: &str = "-";
/// How standard input is named in reports and errors.
pub const STDIN_NAME: &str = "<stdin>";

/// One opened input.
pub struct Input {
    /// The name reports and errors use: the path as given, or `<stdin>`.
    pub path: PathBuf,
    pub file: File,
    /// The size of a regular file, which is read in byte ranges; `None` for a stream.
    pub size: Option<u64>,
}

impl Input {
    pub fn is_stream(&self) -> bool {
        self.size.is_none()
    }

    /// Copies a stream into `scratch` (an unlinked temporary file) and reads that instead, so
    /// the stream's lines can be read again by offset. Read errors name the input; write
    /// errors name `scratch_name`.
    pub fn spool(&mut self, mut scratch: File, scratch_name: &Path) -> Result<(), Error> {
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = match (&self.file).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(&self.path, e)),
            };
            scratch.write_all(&buf[..n]).map_err(|e| Error::io(scratch_name, e))?;
            size += n as u64;
        }
        self.file = scratch;
        self.size = Some(size);
        Ok(())
    }
}

/// Opens every input first, so a missing file is reported before any work starts. A regular
/// file whose size is 0 is read as a stream: `/proc` files report 0 and hold data.
pub fn open_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, Error> {
    if paths.iter().filter(|p| p.as_os_str() == STDIN).count() > 1 {
        return Err(Error::Usage(format!("standard input ({STDIN:?}) can be given only once")));
    }
    paths.iter().map(|p| open_input(p)).collect()
}

fn open_input(path: &Path) -> Result<Input, Error> {
    let (name, file) = if path.as_os_str() == STDIN {
        let name = PathBuf::from(STDIN_NAME);
        let fd = io::stdin().as_fd().try_clone_to_owned().map_err(|e| Error::io(&name, e))?;
        (name, File::from(fd))
    } else {
        (path.to_owned(), File::open(path).map_err(|e| Error::io(path, e))?)
    };
    let meta = file.metadata().map_err(|e| Error::io(&name, e))?;
    if meta.is_dir() {
        return Err(Error::io(&name, io::Error::new(io::ErrorKind::InvalidInput, "is a directory")));
    }
    let size = (meta.is_file() && meta.len() > 0).then_some(meta.len());
    Ok(Input { path: name, file, size })
}

/// The names of the inputs, in order, as reports and errors give them.
pub fn names(inputs: &[Input]) -> Vec<PathBuf> {
    inputs.iter().map(|i| i.path.clone()).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn regular_files_have_a_size_and_streams_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a.jsonl");
        std::fs::write(&data, b"{}\n").unwrap();
        let empty = dir.path().join("empty.jsonl");
        std::fs::write(&empty, b"").unwrap();
        let inputs =
            open_inputs(&[data.clone(), empty, PathBuf::from("/proc/self/status"), PathBuf::from("/dev/null")])
                .unwrap();
        let sizes: Vec<Option<u64>> = inputs.iter().map(|i| i.size).collect();
        assert_eq!(sizes, [Some(3), None, None, None]);
        assert_eq!(inputs[0].path, data);
    }

    #[test]
    fn stdin_is_named_and_given_once() {
        let err = open_inputs(&[PathBuf::from("-"), PathBuf::from("-")]).err().unwrap();
        assert!(err.to_string().contains("only once"), "{err}");
    }

    #[test]
    fn directories_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_inputs(&[dir.path().to_owned()]).err().unwrap();
        assert!(err.to_string().contains("is a directory"), "{err}");
        let err = open_inputs(&[PathBuf::from("/nonexistent/x.jsonl")]).err().unwrap();
        assert!(err.to_string().contains("/nonexistent/x.jsonl"), "{err}");
    }

    #[test]
    fn spooling_a_stream_makes_it_a_sized_file() {
        let (reader, mut writer) = pipe();
        let writer_thread = std::thread::spawn(move || {
            for i in 0..10_000 {
                writeln!(writer, "{{\"i\":{i}}}").unwrap();
            }
        });
        let mut input = Input { path: PathBuf::from("pipe"), file: reader, size: None };
        let scratch = tempfile::tempfile().unwrap();
        input.spool(scratch, Path::new("scratch")).unwrap();
        writer_thread.join().unwrap();
        let want: String = (0..10_000).map(|i| format!("{{\"i\":{i}}}\n")).collect();
        assert_eq!(input.size, Some(want.len() as u64));
        let mut buf = vec![0; want.len()];
        std::os::unix::fs::FileExt::read_exact_at(&input.file, &mut buf, 0).unwrap();
        assert_eq!(buf, want.as_bytes());
    }

    /// A real pipe: (read end, write end).
    pub(crate) fn pipe() -> (File, File) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe(2) writes; each is owned once.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        use std::os::fd::FromRawFd;
        unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
    }
}
