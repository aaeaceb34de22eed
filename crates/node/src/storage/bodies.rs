//! Block bodies in an append-only file beside the database (`chain.blocks` next to
//! `chain.redb`); redb keeps where each one is (docs/DESIGN-chain.md, "Storage").
//!
//! | table / key | value |
//! |---|---|
//! | `block_at` height u64 | [`Loc`]: offset u64 ‖ length u64 ‖ CRC-32C u32 (big-endian, 20 bytes) |
//! | `meta` `"bodies_end"` | u64: the end of the last body the index names |
//!
//! Why not a redb value: a block of proofs runs to megabytes, and redb stages each new value in
//! freshly allocated pages before it writes them. On the machines measured, the kernel zeroing
//! those pages (`clear_page_erms`) was 4.5 % of all CPU with four validators at 5,000 proofs/s
//! (docs/PERFORMANCE.md). Here each body is encoded into one buffer that lives as long as the
//! store, so its pages stay mapped from one block to the next, and written with one `pwrite`.
//!
//! Crash safety comes from ordering: bodies are written and `fdatasync`ed, then the redb
//! transaction that indexes them (and moves `bodies_end`) commits. A crash in between leaves
//! bytes past `bodies_end` that nothing names; opening cuts the file back to `bodies_end`, and
//! a failed commit leaves the end where it was, so the next body overwrites them. Each body
//! carries a CRC-32C in its index row, checked on every read, so a damaged file is reported as
//! such rather than as a block that does not decode.

use anyhow::{Context, Result, bail};
use poai_chain::Block;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Where a body is in the file, and its checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Loc {
    pub offset: u64,
    pub len: u64,
    pub crc: u32,
}

impl Loc {
    /// Encoded size: offset, length, checksum.
    pub const LEN: usize = 20;

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..8].copy_from_slice(&self.offset.to_be_bytes());
        out[8..16].copy_from_slice(&self.len.to_be_bytes());
        out[16..].copy_from_slice(&self.crc.to_be_bytes());
        out
    }

    /// Decodes an index row; `None` unless it is exactly [`Loc::LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes = <&[u8; Self::LEN]>::try_from(bytes).ok()?;
        let (offset, rest) = bytes.split_first_chunk::<8>()?;
        let (len, crc) = rest.split_first_chunk::<8>()?;
        Some(Self {
            offset: u64::from_be_bytes(*offset),
            len: u64::from_be_bytes(*len),
            crc: u32::from_be_bytes(<[u8; 4]>::try_from(crc).ok()?),
        })
    }

    /// The offset just past the body.
    pub fn end(&self) -> Option<u64> {
        self.offset.checked_add(self.len)
    }
}

/// CRC-32C (Castagnoli), the checksum of each body.
fn crc32c(bytes: &[u8]) -> u32 {
    let sum = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, bytes);
    // A 32-bit CRC in a u64: the high half is zero.
    u32::try_from(sum).unwrap_or(u32::MAX)
}

/// The body file.
pub(super) struct Bodies {
    file: File,
    path: PathBuf,
    writer: Mutex<Writer>,
}

/// The end of the indexed bodies, and the buffer bodies are encoded into.
struct Writer {
    end: u64,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Bodies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bodies")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Bodies {
    /// Opens (or creates) the file at `path`, whose index ends at `end`: a longer file is cut
    /// back to `end` (bodies written before a crash that no commit indexed); a shorter one is
    /// an error, since the index names bodies it does not hold.
    pub fn open(path: &Path, end: u64) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let len = file
            .metadata()
            .with_context(|| format!("reading the size of {}", path.display()))?
            .len();
        if len < end {
            bail!(
                "{} holds {len} bytes but the block index names bodies up to byte {end}: the file is truncated or not this database's",
                path.display()
            );
        }
        if len > end {
            file.set_len(end)
                .with_context(|| format!("cutting {} back to {end} bytes", path.display()))?;
        }
        Ok(Self {
            file,
            path: path.to_path_buf(),
            writer: Mutex::new(Writer {
                end,
                buf: Vec::new(),
            }),
        })
    }

    /// Takes the writer: bodies appended through it are not durable until
    /// [`Appender::sync`], and become the file's until [`Appender::commit`].
    pub fn appender(&self) -> Appender<'_> {
        let w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let next = w.end;
        Appender {
            bodies: self,
            w,
            next,
        }
    }

    /// Reads the body at `loc` (block `height`, for the messages) and checks its checksum.
    pub fn read(&self, height: u64, loc: Loc) -> Result<Vec<u8>> {
        // The index is the node's own, but a damaged one must not make it allocate past what
        // the file holds.
        let size = self
            .file
            .metadata()
            .with_context(|| format!("reading the size of {}", self.path.display()))?
            .len();
        if loc.end().is_none_or(|end| end > size) {
            bail!(
                "reading block {height}: the index names {} bytes at {}, past the end of {} ({size} bytes)",
                loc.len,
                loc.offset,
                self.path.display()
            );
        }
        let len = usize::try_from(loc.len)
            .with_context(|| format!("stored block {height}: length {} too large", loc.len))?;
        let mut out = vec![0u8; len];
        self.file
            .read_exact_at(&mut out, loc.offset)
            .with_context(|| {
                format!(
                    "reading block {height} ({} bytes at {}) from {}",
                    loc.len,
                    loc.offset,
                    self.path.display()
                )
            })?;
        if crc32c(&out) != loc.crc {
            bail!(
                "stored block {height} in {} is damaged: its checksum does not match the index",
                self.path.display()
            );
        }
        Ok(out)
    }
}

/// Appends bodies after the indexed ones; dropped without [`Appender::commit`], it leaves the
/// end where it was, so what it wrote is overwritten next time.
pub(super) struct Appender<'a> {
    bodies: &'a Bodies,
    w: MutexGuard<'a, Writer>,
    /// Where the next body goes.
    next: u64,
}

impl Appender<'_> {
    /// Encodes `block` into the writer's buffer and writes it after the bodies appended so far.
    pub fn append(&mut self, block: &Block) -> Result<Loc> {
        let mut buf = std::mem::take(&mut self.w.buf);
        buf.clear();
        buf.reserve(block.encoded_len());
        block.encode_pieces(|piece| buf.extend_from_slice(piece));
        let loc = self.append_encoded(&buf);
        self.w.buf = buf;
        loc
    }

    /// Writes an encoded body after the bodies appended so far.
    pub fn append_encoded(&mut self, bytes: &[u8]) -> Result<Loc> {
        let len = u64::try_from(bytes.len()).context("block body length")?;
        let loc = Loc {
            offset: self.next,
            len,
            crc: crc32c(bytes),
        };
        let end = loc.end().context("block file offset overflows")?;
        self.bodies
            .file
            .write_all_at(bytes, loc.offset)
            .with_context(|| format!("writing to {}", self.bodies.path.display()))?;
        self.next = end;
        Ok(loc)
    }

    /// Whether anything was appended.
    pub fn appended(&self) -> bool {
        self.next != self.w.end
    }

    /// The end of the bodies appended so far (`meta/"bodies_end"` once indexed).
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Makes the appended bodies durable; call before committing the index that names them.
    pub fn sync(&self) -> Result<()> {
        self.bodies
            .file
            .sync_data()
            .with_context(|| format!("syncing {}", self.bodies.path.display()))
    }

    /// The index naming the appended bodies committed: they are the file's now.
    pub fn commit(mut self) {
        self.w.end = self.next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loc_round_trips_and_refuses_other_lengths() {
        let loc = Loc {
            offset: 1 << 40,
            len: 8 << 20,
            crc: 0xdead_beef,
        };
        assert_eq!(Loc::decode(&loc.encode()), Some(loc));
        assert_eq!(Loc::decode(&loc.encode()[..19]), None);
        assert_eq!(Loc::decode(&[0u8; 21]), None);
        assert_eq!(
            Loc {
                offset: u64::MAX,
                len: 1,
                crc: 0
            }
            .end(),
            None
        );
    }

    /// CRC-32C's check value (the CRC of the nine bytes "123456789").
    #[test]
    fn checksum_is_crc32c() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    /// A new body file in a temporary directory, holding `body`, committed.
    fn with_one(body: &[u8]) -> (tempfile::TempDir, PathBuf, Bodies, Loc) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.blocks");
        let bodies = Bodies::open(&path, 0).unwrap();
        let mut a = bodies.appender();
        let loc = a.append_encoded(body).unwrap();
        a.sync().unwrap();
        a.commit();
        (dir, path, bodies, loc)
    }

    #[test]
    fn uncommitted_bodies_are_overwritten_and_cut_on_open() {
        let (_dir, path, bodies, first) = with_one(b"first body");
        // Written, never indexed (a failed commit).
        let mut a = bodies.appender();
        let lost = a.append_encoded(b"lost").unwrap();
        assert!(a.appended());
        drop(a);
        let mut a = bodies.appender();
        assert!(!a.appended());
        let second = a.append_encoded(b"second").unwrap();
        assert_eq!(second.offset, lost.offset, "the unindexed bytes are reused");
        a.commit();
        assert_eq!(bodies.read(1, first).unwrap(), b"first body");
        assert_eq!(bodies.read(2, second).unwrap(), b"second");
        let end = second.end().unwrap();
        drop(bodies);
        // A crash left bytes past the index's end: opening cuts them.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"torn tail"))
            .unwrap();
        let bodies = Bodies::open(&path, end).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), end);
        assert_eq!(bodies.read(2, second).unwrap(), b"second");
        drop(bodies);
        let err = Bodies::open(&path, end + 1).unwrap_err();
        assert!(format!("{err:#}").contains("truncated"), "{err:#}");
    }

    #[test]
    fn a_damaged_body_is_reported_as_damaged() {
        let (_dir, _, bodies, loc) = with_one(b"a block body");
        bodies.file.write_all_at(b"A", loc.offset).unwrap();
        let err = bodies.read(7, loc).unwrap_err();
        assert!(format!("{err:#}").contains("block 7"), "{err:#}");
        assert!(format!("{err:#}").contains("damaged"), "{err:#}");
        let past = Loc {
            offset: loc.offset + 4,
            ..loc
        };
        let err = bodies.read(7, past).unwrap_err();
        assert!(format!("{err:#}").contains("reading block 7"), "{err:#}");
    }
}
