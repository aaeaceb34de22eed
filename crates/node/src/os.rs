//! What a node process asks of the operating system, beyond files and sockets
//! (docs/DESIGN-consensus.md, "Admission and the page cache"). Both are Linux-only and best
//! effort: elsewhere, or where the kernel refuses, the node runs as it would without them.
//!
//! - [`admission_pool`]: rayon's global pool, where transactions are admitted (their ML-DSA
//!   checks, from RPC and from peers' gossip), runs at a lower CPU priority than the rest of the
//!   process. When the offered load is more than the cores can check, admission waits, not the
//!   consensus path (proposing, checking and committing blocks, votes): a validator that is late
//!   with its block makes every validator wait out a 2-second leader timeout.
//! - [`PageCache`]: the node's files leave the kernel's page cache once written. A validator
//!   writes every block twice (marshal's journal of blocks it verified, then the block store)
//!   and reads them back rarely, while the pages they filled crowd out what is read. Freeing
//!   the pages right away also lets the next block's writes reuse them: on a virtual machine
//!   whose host takes idle guest memory back (balloon free-page reporting), filling a page the
//!   guest has not touched recently costs several times a reused one (docs/PERFORMANCE.md).

use std::path::{Path, PathBuf};

/// The nice value of the admission threads: CFS then gives them about a third of the CPU share
/// of the other threads while both want to run, and all of it when nothing else does.
const ADMISSION_NICE: i32 = 5;

/// Builds rayon's global pool with its threads named `poai-admit-N` at nice 5
/// (`ADMISSION_NICE`). Call once, before anything uses rayon; a pool already built is left as it
/// is (returns `false`).
pub fn admission_pool() -> bool {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("poai-admit-{i}"))
        .start_handler(|_| lower_priority(ADMISSION_NICE))
        .build_global()
        .is_ok()
}

/// Lowers the calling thread to the admission threads' priority: background work that
/// consensus should not wait behind (the node's state table writes).
pub(crate) fn background_priority() {
    lower_priority(ADMISSION_NICE);
}

/// Lowers the calling thread's priority to `nice` (Linux threads each have their own).
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// The files under a node's data directory, released from the page cache after each block is
/// committed ([`PageCache::release`]).
#[derive(Debug, Clone)]
pub struct PageCache {
    root: PathBuf,
}

/// How deep [`PageCache::release`] walks: the data directory, `consensus/`, and its
/// partitions' directories.
const MAX_DEPTH: usize = 3;

impl PageCache {
    /// The files under `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// Asks the kernel to drop the cached pages of every file under the root
    /// (`POSIX_FADV_DONTNEED`): clean pages are freed now, dirty ones are queued for writing
    /// and freed by a later call. Nothing is lost either way: the files keep their contents, and
    /// a read afterwards comes from the disk. Returns how many files were advised; errors (a
    /// file removed meanwhile) skip that file.
    pub fn release(&self) -> usize {
        release_under(&self.root, MAX_DEPTH)
    }
}

fn release_under(dir: &Path, depth: usize) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0usize;
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() && depth > 1 {
            n = n.saturating_add(release_under(&path, depth.saturating_sub(1)));
        } else if kind.is_file() && advise_dont_need(&path) {
            n = n.saturating_add(1);
        }
    }
    n
}

#[cfg(target_os = "linux")]
fn advise_dont_need(path: &Path) -> bool {
    std::fs::File::open(path)
        .ok()
        .is_some_and(|f| rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed).is_ok())
}

#[cfg(not(target_os = "linux"))]
fn advise_dont_need(_path: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in the tree (to the depth a node's data directory has) is advised, and keeps
    /// its contents; a missing root is no error.
    #[test]
    fn release_walks_the_data_directory_and_keeps_contents() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("consensus").join("partition");
        std::fs::create_dir_all(&deep).unwrap();
        let files = [
            dir.path().join("chain.redb"),
            dir.path().join("consensus").join("meta"),
            deep.join("0000000000000001"),
        ];
        for (i, f) in files.iter().enumerate() {
            std::fs::write(f, vec![u8::try_from(i).unwrap(); 10_000]).unwrap();
            std::fs::File::open(f).unwrap().sync_all().unwrap();
        }
        let released = PageCache::new(dir.path()).release();
        if cfg!(target_os = "linux") {
            assert_eq!(released, files.len());
        }
        for (i, f) in files.iter().enumerate() {
            assert_eq!(
                std::fs::read(f).unwrap(),
                vec![u8::try_from(i).unwrap(); 10_000]
            );
        }
        assert_eq!(PageCache::new(&dir.path().join("absent")).release(), 0);
    }
}
