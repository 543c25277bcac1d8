//! A redb storage backend that reads a file and keeps every write in memory: the file is never
//! changed. The store opens `alert.redb` through it when the file cannot be written (a full
//! disk), so redb can still open it (and repair it in memory, if it was not closed cleanly)
//! and the pipeline can load its state.

use redb::StorageBackend;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Mutex;

const BLOCK: u64 = 4096;

#[derive(Debug)]
struct State {
    file: File,
    /// Bytes of the file that still show through (shrinking the storage hides the rest).
    base_len: u64,
    /// The storage's length.
    len: u64,
    /// Blocks written, by block number.
    blocks: HashMap<u64, Vec<u8>>,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Overlay(Mutex<State>);

impl Overlay {
    /// Opens `path` for reading.
    pub(crate) fn open(path: &Path) -> io::Result<Overlay> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Overlay(Mutex::new(State {
            file,
            base_len: len,
            len,
            blocks: HashMap::new(),
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every method leaves the state whole before it can fail.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Block `b` as it reads now.
    fn block(&mut self, b: u64) -> io::Result<Vec<u8>> {
        if let Some(v) = self.blocks.get(&b) {
            return Ok(v.clone());
        }
        let mut v = vec![0u8; BLOCK as usize];
        let start = b * BLOCK;
        if start < self.base_len {
            let n = (self.base_len - start).min(BLOCK) as usize;
            self.file.seek(SeekFrom::Start(start))?;
            self.file.read_exact(&mut v[..n])?;
        }
        Ok(v)
    }
}

impl StorageBackend for Overlay {
    fn len(&self) -> io::Result<u64> {
        Ok(self.state().len)
    }

    fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut st = self.state();
        let end = offset + len as u64;
        if end > st.len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the end of the storage",
            ));
        }
        let mut out = Vec::with_capacity(len);
        let mut pos = offset;
        while pos < end {
            let b = pos / BLOCK;
            let from = (pos - b * BLOCK) as usize;
            let to = (end.min((b + 1) * BLOCK) - b * BLOCK) as usize;
            let block = st.block(b)?;
            out.extend_from_slice(&block[from..to]);
            pos = b * BLOCK + to as u64;
        }
        Ok(out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut st = self.state();
        if len < st.len {
            st.base_len = st.base_len.min(len);
            let keep = len.div_ceil(BLOCK);
            st.blocks.retain(|b, _| *b < keep);
            let tail = (len % BLOCK) as usize;
            if tail > 0 {
                let b = len / BLOCK;
                let mut block = st.block(b)?;
                block[tail..].fill(0);
                st.blocks.insert(b, block);
            }
        }
        st.len = len;
        Ok(())
    }

    fn sync_data(&self, _eventual: bool) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut st = self.state();
        let end = offset + data.len() as u64;
        let mut pos = offset;
        while pos < end {
            let b = pos / BLOCK;
            let from = (pos - b * BLOCK) as usize;
            let to = (end.min((b + 1) * BLOCK) - b * BLOCK) as usize;
            let mut block = st.block(b)?;
            let src = (pos - offset) as usize;
            block[from..to].copy_from_slice(&data[src..src + (to - from)]);
            st.blocks.insert(b, block);
            pos = b * BLOCK + to as u64;
        }
        st.len = st.len.max(end);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_file_and_keeps_writes_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![7u8; 5000]).unwrap();
        let o = Overlay::open(&p).unwrap();
        assert_eq!(o.read(4090, 10).unwrap(), vec![7u8; 10]);
        o.write(4094, &[1, 2, 3, 4]).unwrap();
        assert_eq!(o.read(4093, 6).unwrap(), vec![7, 1, 2, 3, 4, 7]);
        o.set_len(4095).unwrap();
        o.set_len(9000).unwrap();
        assert_eq!(o.read(4093, 4).unwrap(), vec![7, 1, 0, 0]);
        assert_eq!(o.read(8990, 10).unwrap(), vec![0u8; 10]);
        assert!(o.read(8995, 10).is_err());
        assert_eq!(std::fs::read(&p).unwrap(), vec![7u8; 5000]);
    }
}
