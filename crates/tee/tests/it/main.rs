//! Integration tests: every public sample in testdata/tee gets the verdict its
//! PROVENANCE.md gives, through the library and through the CLI's `run`; mutation suites over
//! real and synthetic evidence.

// Helpers outside #[test] fns are test code too; clippy.toml's in-tests allowances miss them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod mutations;
mod samples;
