//! A partial local copy of a file another node holds: the file at its full size (sparse on disk,
//! so absent parts cost nothing) and a map of which blocks are really there, kept beside it, so a
//! restarted worker keeps what it fetched. FFmpeg opens it as any local file; the decoder checks
//! each packet against the map ([`SparseCopy::guard`]) instead of decoding zeros.

use super::decode::ByteGuard;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The unit fetched and recorded: 1 MiB.
pub const BLOCK: u64 = 1 << 20;

pub struct SparseCopy {
    path: PathBuf,
    map_path: PathBuf,
    size: u64,
    file: std::fs::File,
    /// One bit per block, set when the block was written and synced.
    have: Mutex<Vec<u8>>,
}

impl SparseCopy {
    /// Opens (or creates) the copy of a `size`-byte file at `path`; what an earlier run fetched is
    /// kept when its size matches.
    pub fn open(path: &Path, size: u64) -> std::io::Result<SparseCopy> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let map_path = path.with_extension("blocks");
        let blocks = size.div_ceil(BLOCK) as usize;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut have = std::fs::read(&map_path).unwrap_or_default();
        if file.metadata()?.len() != size || have.len() != blocks.div_ceil(8) {
            file.set_len(0)?;
            file.set_len(size)?;
            have = vec![0; blocks.div_ceil(8)];
        }
        Ok(SparseCopy {
            path: path.to_owned(),
            map_path,
            size,
            file,
            have: Mutex::new(have),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    fn blocks(&self, start: u64, end: u64) -> std::ops::Range<u64> {
        let end = end.min(self.size);
        if start >= end {
            return 0..0;
        }
        start / BLOCK..end.div_ceil(BLOCK)
    }

    /// Whether every byte of `start..end` is here.
    pub fn has(&self, start: u64, end: u64) -> bool {
        let Ok(have) = self.have.lock() else {
            return false;
        };
        self.blocks(start, end)
            .all(|b| have[(b / 8) as usize] & (1 << (b % 8)) != 0)
    }

    /// The block-aligned runs of `start..end` (clamped to the file) that are not here.
    pub fn missing(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let Ok(have) = self.have.lock() else {
            return vec![(0, self.size)];
        };
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for b in self.blocks(start, end) {
            if have[(b / 8) as usize] & (1 << (b % 8)) != 0 {
                continue;
            }
            let (s, e) = (b * BLOCK, ((b + 1) * BLOCK).min(self.size));
            match runs.last_mut() {
                Some(last) if last.1 == s => last.1 = e,
                _ => runs.push((s, e)),
            }
        }
        runs
    }

    /// Writes `data` at `offset`.
    pub fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all_at(data, offset)
    }

    /// Records the blocks of `start..end` (block-aligned, or ending at the end of the file) as
    /// here, after syncing them: a block is never marked before its bytes are durable.
    pub fn mark(&self, start: u64, end: u64) -> std::io::Result<()> {
        self.file.sync_data()?;
        let bytes = {
            let mut have = self
                .have
                .lock()
                .map_err(|_| std::io::Error::other("block map poisoned"))?;
            for b in self.blocks(start, end) {
                have[(b / 8) as usize] |= 1 << (b % 8);
            }
            have.clone()
        };
        let tmp = self.map_path.with_extension("blocks.part");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.map_path)
    }

    /// The decoder's check against this copy.
    pub fn guard(self: &Arc<Self>) -> ByteGuard {
        let me = self.clone();
        Arc::new(move |start, end| me.has(start, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_marked_and_kept_across_opens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("copy");
        let size = 3 * BLOCK + 10;
        let copy = SparseCopy::open(&path, size).expect("open");
        assert_eq!(copy.missing(0, size), vec![(0, size)]);
        copy.write(BLOCK, &vec![7; BLOCK as usize]).expect("write");
        copy.mark(BLOCK, 2 * BLOCK).expect("mark");
        assert!(copy.has(BLOCK + 5, 2 * BLOCK));
        assert!(!copy.has(BLOCK - 1, BLOCK + 1));
        assert_eq!(copy.missing(0, size), vec![(0, BLOCK), (2 * BLOCK, size)]);
        drop(copy);
        let again = SparseCopy::open(&path, size).expect("reopen");
        assert!(again.has(BLOCK, 2 * BLOCK));
        // The last, short block.
        again.write(3 * BLOCK, &[1; 10]).expect("write");
        again.mark(3 * BLOCK, size).expect("mark");
        assert!(again.has(3 * BLOCK, size));
        // Another size: another file, nothing kept.
        drop(again);
        let other = SparseCopy::open(&path, size + 1).expect("open");
        assert!(!other.has(BLOCK, 2 * BLOCK));
    }
}
