//! Copying byte ranges of input files into an output file at known offsets, from several
//! threads at once. The kernel moves the bytes (copy_file_range), so they never pass through
//! this process; where it cannot (another filesystem, an old kernel), pread/pwrite do.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;

/// `len` bytes of input `file` from `from`, to be written at `to` in the output; `newline`
/// asks for a `\n` right after them.
#[derive(Clone, Copy, Debug)]
pub struct Range {
    pub file: usize,
    pub from: u64,
    pub to: u64,
    pub len: u64,
    pub newline: bool,
}

impl Range {
    pub fn out_len(&self) -> u64 {
        self.len + u64::from(self.newline)
    }
}

/// Copies every range; ranges are split into `threads` contiguous groups of similar size.
pub fn copy_ranges(
    inputs: &[&File],
    ranges: &[Range],
    output: &File,
    threads: usize,
) -> Result<(), (usize, io::Error)> {
    let total: u64 = ranges.iter().map(Range::out_len).sum();
    output.set_len(total).map_err(|e| (usize::MAX, e))?;
    let groups = split_evenly(ranges, threads.max(1), total);
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            groups.into_iter().map(|group| scope.spawn(move || copy_group(inputs, group, output))).collect();
        handles.into_iter().try_for_each(|h| h.join().expect("copy thread panicked"))
    })
}

fn split_evenly(ranges: &[Range], parts: usize, total: u64) -> Vec<&[Range]> {
    let per_part = total / parts as u64 + 1;
    let mut groups = Vec::with_capacity(parts);
    let (mut start, mut acc) = (0, 0);
    for (i, r) in ranges.iter().enumerate() {
        acc += r.out_len();
        if acc >= per_part && groups.len() + 1 < parts {
            groups.push(&ranges[start..=i]);
            start = i + 1;
            acc = 0;
        }
    }
    groups.push(&ranges[start..]);
    groups
}

fn copy_group(inputs: &[&File], group: &[Range], output: &File) -> Result<(), (usize, io::Error)> {
    let mut buffer = Vec::new();
    for r in group {
        copy_one(inputs[r.file], r.from, output, r.to, r.len, &mut buffer).map_err(|e| (r.file, e))?;
        if r.newline {
            output.write_all_at(b"\n", r.to + r.len).map_err(|e| (usize::MAX, e))?;
        }
    }
    Ok(())
}

fn copy_one(
    input: &File,
    mut from: u64,
    output: &File,
    mut to: u64,
    mut len: u64,
    buffer: &mut Vec<u8>,
) -> io::Result<()> {
    while len > 0 {
        let mut off_in = from as libc::loff_t;
        let mut off_out = to as libc::loff_t;
        let chunk = len.min(1 << 30) as usize;
        // SAFETY: both descriptors are open for the duration of the call and the offsets are
        // plain integers the kernel updates.
        let n = unsafe {
            libc::copy_file_range(input.as_raw_fd(), &mut off_in, output.as_raw_fd(), &mut off_out, chunk, 0)
        };
        if n > 0 {
            from += n as u64;
            to += n as u64;
            len -= n as u64;
            continue;
        }
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank while it was being read"));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EXDEV | libc::ENOSYS | libc::EINVAL | libc::EOPNOTSUPP | libc::EPERM) => {
                return copy_through_buffer(input, from, output, to, len, buffer)
            }
            _ => return Err(e),
        }
    }
    Ok(())
}

fn copy_through_buffer(
    input: &File,
    from: u64,
    output: &File,
    to: u64,
    len: u64,
    buffer: &mut Vec<u8>,
) -> io::Result<()> {
    buffer.resize(len.min(8 << 20) as usize, 0);
    let mut done = 0;
    while done < len {
        let n = (len - done).min(buffer.len() as u64) as usize;
        input.read_exact_at(&mut buffer[..n], from + done)?;
        output.write_all_at(&buffer[..n], to + done)?;
        done += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn copies_ranges_in_parallel_to_their_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        File::create(&src).unwrap().write_all(&data).unwrap();
        let input = File::open(&src).unwrap();
        let mut ranges = Vec::new();
        let mut to = 0;
        for k in 0..50u64 {
            let (from, len) = (k * 1900 + 7, 100 + k * 13);
            ranges.push(Range { file: 0, from, to, len, newline: k % 3 == 0 });
            to += len + u64::from(k % 3 == 0);
        }
        let out_path = dir.path().join("out");
        let output = File::options().read(true).write(true).create(true).truncate(true).open(&out_path).unwrap();
        copy_ranges(&[&input], &ranges, &output, 3).unwrap();
        let mut want = Vec::new();
        for r in &ranges {
            want.extend_from_slice(&data[r.from as usize..(r.from + r.len) as usize]);
            if r.newline {
                want.push(b'\n');
            }
        }
        assert_eq!(std::fs::read(&out_path).unwrap(), want);
    }
}
