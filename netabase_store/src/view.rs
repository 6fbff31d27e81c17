//! A read-only view of a store file for redb: redb's normal open (its integrity check, and the
//! repair of a file that was not closed cleanly) runs on it, and what the open writes stays in
//! memory.
//!
//! redb's own `ReadOnlyDatabase` does neither: it trusts every page it reads (a page damaged
//! outside redb can make it panic) and refuses a file that needs a repair, which is every copy of
//! a file a running node holds. Both the check and the repair commit, so they need a writable
//! database; this view gives redb one whose writes go to an in-memory layer of 4 KiB blocks over
//! the file, dropped with the view. The file itself is opened read-only and never written.
//!
//! Locks: the view supports only a whole-file lock, which it takes *shared* through redb's
//! `FileBackend` (a level a redb backend may support, see `redb::StorageBackend`). A running node
//! holds its file exclusively, so opening the view fails while one does, and no node can open
//! the file while a view holds it; any number of views may read a file at once.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

/// The granularity of the in-memory layer: redb's page size.
const BLOCK: u64 = 4096;

/// A file seen through an in-memory layer that holds every block written since it was opened.
pub(crate) struct CopyOnWrite {
    /// The file, read-only; its locks are the view's.
    base: FileBackend,
    /// The file's length when it was opened.
    file_len: u64,
    layer: Arc<Mutex<Layer>>,
}

/// Reports how much of a view is held in memory, after the view moved into redb.
#[derive(Debug, Clone)]
pub(crate) struct MemoryUse(Arc<Mutex<Layer>>);

impl MemoryUse {
    /// The bytes the view's in-memory layer holds.
    pub(crate) fn bytes(&self) -> u64 {
        let layer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        layer.blocks.len() as u64 * BLOCK
    }
}

/// What has been written to the view.
#[derive(Debug)]
struct Layer {
    /// The view's length.
    len: u64,
    /// Bytes at or past this offset that no block holds read as zero: the view was shortened to
    /// it (or grew past the file's end), so the file's bytes there are gone.
    zero_from: u64,
    /// Written blocks by index, each `BLOCK` bytes.
    blocks: BTreeMap<u64, Box<[u8]>>,
}

impl std::fmt::Debug for CopyOnWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let layer = self.layer();
        f.debug_struct("CopyOnWrite")
            .field("file_len", &self.file_len)
            .field("len", &layer.len)
            .field("blocks_in_memory", &layer.blocks.len())
            .finish()
    }
}

/// Whether a lock range is the whole file, the only range the view locks.
fn is_whole_file(start: Bound<u64>, end: Bound<u64>) -> bool {
    matches!(start, Bound::Unbounded | Bound::Included(0)) && end == Bound::Unbounded
}

impl CopyOnWrite {
    /// A view of `file`, which may be opened read-only.
    pub(crate) fn new(file: File) -> io::Result<Self> {
        let file_len = file.metadata()?.len();
        let base = FileBackend::new(file).map_err(io::Error::other)?;
        Ok(CopyOnWrite {
            base,
            file_len,
            layer: Arc::new(Mutex::new(Layer {
                len: file_len,
                zero_from: file_len,
                blocks: BTreeMap::new(),
            })),
        })
    }

    fn layer(&self) -> MutexGuard<'_, Layer> {
        // Every update of the layer completes or fails before it changes anything it leaves torn.
        self.layer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads `out.len()` bytes at `offset` as the file has them, zero where the view no longer
    /// holds the file's bytes; ignores the written blocks.
    fn read_base(&self, zero_from: u64, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let available = zero_from.min(self.file_len).saturating_sub(offset);
        let from_file = usize::try_from(available).map_or(out.len(), |n| n.min(out.len()));
        let (head, tail) = out.split_at_mut(from_file);
        if !head.is_empty() {
            self.base.read(offset, head)?;
        }
        tail.fill(0);
        Ok(())
    }

    /// A handle that reports the memory the view's layer holds.
    pub(crate) fn memory_use(&self) -> MemoryUse {
        MemoryUse(Arc::clone(&self.layer))
    }
}

/// The range `offset..offset + len`, or an error when it lies past `limit`.
fn checked_end(offset: u64, len: usize, limit: u64) -> io::Result<u64> {
    u64::try_from(len)
        .ok()
        .and_then(|len| offset.checked_add(len))
        .filter(|end| *end <= limit)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "access past the end of the copy-on-write view",
            )
        })
}

/// The part of block `index` that `offset..end` covers: the offset of the part in the block and
/// in the range, and its length.
fn overlap(index: u64, offset: u64, end: u64) -> (usize, usize, usize) {
    let block_start = index * BLOCK;
    let start = offset.max(block_start);
    let stop = end.min(block_start + BLOCK);
    // All three are below BLOCK or below the length of a slice in memory.
    (
        (start - block_start) as usize,
        (start - offset) as usize,
        (stop - start) as usize,
    )
}

impl StorageBackend for CopyOnWrite {
    /// Takes the whole-file lock shared: the view never writes the file, so views share it, and
    /// it excludes a writer. Other ranges are unsupported, so redb asks for the whole file.
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        if !is_whole_file(start, end) {
            return Err(BackendError::Unsupported);
        }
        self.base.try_lock_shared_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        if !is_whole_file(start, end) {
            return Err(BackendError::Unsupported);
        }
        self.base.try_lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.base.unlock_range(start, end)
    }

    fn close(&self) -> io::Result<()> {
        self.base.close()
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.layer().len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let layer = self.layer();
        let end = checked_end(offset, out.len(), layer.len)?;
        self.read_base(layer.zero_from, offset, out)?;
        if out.is_empty() {
            return Ok(());
        }
        for (&index, block) in layer.blocks.range(offset / BLOCK..=(end - 1) / BLOCK) {
            let (in_block, in_out, len) = overlap(index, offset, end);
            out[in_out..in_out + len].copy_from_slice(&block[in_block..in_block + len]);
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut layer = self.layer();
        if len < layer.len {
            layer.zero_from = layer.zero_from.min(len);
            let first_gone = len.div_ceil(BLOCK);
            layer.blocks.split_off(&first_gone);
            if let Some(block) = layer.blocks.get_mut(&(len / BLOCK)) {
                // `len % BLOCK` is below BLOCK.
                block[(len % BLOCK) as usize..].fill(0);
            }
        }
        layer.len = len;
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut layer = self.layer();
        let end = checked_end(offset, data.len(), layer.len)?;
        if data.is_empty() {
            return Ok(());
        }
        for index in offset / BLOCK..=(end - 1) / BLOCK {
            let (in_block, in_data, len) = overlap(index, offset, end);
            if !layer.blocks.contains_key(&index) {
                let mut block = vec![0; BLOCK as usize].into_boxed_slice();
                self.read_base(layer.zero_from, index * BLOCK, &mut block)?;
                layer.blocks.insert(index, block);
            }
            if let Some(block) = layer.blocks.get_mut(&index) {
                block[in_block..in_block + len].copy_from_slice(&data[in_data..in_data + len]);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// The view behaves like a byte vector initialised from the file, and the file is unchanged.
    #[test]
    fn the_view_reads_its_writes_and_leaves_the_file_alone() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        let original: Vec<u8> = (0..3 * BLOCK + 100).map(|i| (i % 251) as u8).collect();
        file.write_all(&original).expect("write");
        let view = CopyOnWrite::new(File::open(file.path()).expect("open")).expect("view");
        let mut model = original.clone();

        let check = |view: &CopyOnWrite, model: &[u8]| {
            assert_eq!(view.len().expect("len"), model.len() as u64);
            let mut out = vec![0xEE; model.len()];
            view.read(0, &mut out).expect("read all");
            assert_eq!(out, model);
            // A read that straddles two blocks, where the view is long enough for one.
            if model.len() >= BLOCK as usize + 5 {
                let mut out = vec![0; 10];
                view.read(BLOCK - 5, &mut out).expect("read across");
                assert_eq!(out, model[BLOCK as usize - 5..BLOCK as usize + 5]);
            }
        };
        check(&view, &model);

        // A write across two blocks.
        view.write(BLOCK - 3, &[1, 2, 3, 4, 5, 6]).expect("write");
        model[BLOCK as usize - 3..BLOCK as usize + 3].copy_from_slice(&[1, 2, 3, 4, 5, 6]);
        check(&view, &model);

        // Shortening drops the file's bytes past the new end; growing back reads zeros there.
        view.set_len(BLOCK + 1).expect("shrink");
        model.truncate(BLOCK as usize + 1);
        check(&view, &model);
        view.set_len(4 * BLOCK).expect("grow");
        model.resize(4 * BLOCK as usize, 0);
        check(&view, &model);
        view.write(4 * BLOCK - 2, &[9, 9])
            .expect("write at the end");
        model[4 * BLOCK as usize - 2..].copy_from_slice(&[9, 9]);
        check(&view, &model);

        let mut out = [0; 4];
        assert!(view.read(4 * BLOCK - 2, &mut out).is_err(), "past the end");
        assert!(view.write(4 * BLOCK, &[1]).is_err(), "past the end");
        assert_eq!(std::fs::read(file.path()).expect("read file"), original);
    }
}
