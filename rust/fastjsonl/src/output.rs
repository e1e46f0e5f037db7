//! Outputs written to a temporary file beside the target and renamed into place once
//! complete and synced, so a crash or an error never leaves a partial output behind.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;

pub struct AtomicOutput {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicOutput {
    pub fn create(target: &Path) -> Result<AtomicOutput, Error> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .ok_or_else(|| Error::Usage(format!("output path {} names no file", target.display())))?;
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let temp = dir.join(format!(".{}.{}-{nanos}.tmp", name.to_string_lossy(), std::process::id()));
        let file = File::create(&temp).map_err(|e| Error::io(&temp, e))?;
        Ok(AtomicOutput { target: target.to_owned(), temp, writer: Some(BufWriter::with_capacity(1 << 20, file)) })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let writer = self.writer.as_mut().expect("writer is open until finish");
        writer.write_all(bytes).map_err(|e| Error::io(&self.temp, e))
    }

    /// The temporary file itself, for positional writes from several threads (what is
    /// buffered is written first).
    pub fn file(&mut self) -> Result<&File, Error> {
        let writer = self.writer.as_mut().expect("writer is open until finish");
        writer.flush().map_err(|e| Error::io(&self.temp, e))?;
        Ok(writer.get_ref())
    }

    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// A scratch file beside the output, removed from its directory at once: it takes disk
    /// space only while open, and a crash leaves nothing behind. Also returns the name it was
    /// created under, for error messages.
    pub fn scratch(&self, what: &str) -> Result<(File, PathBuf), Error> {
        let path = self.temp.with_extension(what);
        let file =
            File::options().read(true).write(true).create_new(true).open(&path).map_err(|e| Error::io(&path, e))?;
        fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        Ok((file, path))
    }

    /// Flushes, syncs and renames the temporary file onto the target.
    pub fn finish(mut self) -> Result<(), Error> {
        let writer = self.writer.take().expect("finish is called once");
        let file = writer.into_inner().map_err(|e| Error::io(&self.temp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.temp, e))?;
        drop(file);
        fs::rename(&self.temp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Persist the rename itself; some filesystems refuse to sync a directory, which is fine.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

impl Drop for AtomicOutput {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_on_finish_and_cleans_up_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.jsonl");
        let mut out = AtomicOutput::create(&target).unwrap();
        out.write(b"{}\n").unwrap();
        assert!(!target.exists());
        out.finish().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"{}\n");

        let mut out = AtomicOutput::create(&target).unwrap();
        out.write(b"partial").unwrap();
        drop(out);
        assert_eq!(fs::read(&target).unwrap(), b"{}\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left");
    }

    #[test]
    fn scratch_files_take_no_name() {
        let dir = tempfile::tempdir().unwrap();
        let out = AtomicOutput::create(&dir.path().join("out.jsonl")).unwrap();
        let (mut scratch, name) = out.scratch("spool").unwrap();
        scratch.write_all(b"kept while open").unwrap();
        assert!(name.starts_with(dir.path()));
        assert!(!name.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "only the output's temp file");
    }
}
