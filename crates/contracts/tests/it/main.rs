//! The compiled contracts (contracts/out) deployed into revm with the poai precompiles
//! installed, driven through complete flows: registration and mining (AIMining, AIToken,
//! ChainConfig through 0x0300 and 0x0301), emission (AIToken against `poai-economics`), the
//! compute market (ComputeMarket through 0x0302), and the ABI agreement between the compiled
//! interfaces and the precompiles' Rust side. Every failure is checked by its custom error.
//!
//! The harness's helpers unwrap and panic: they run only under the test runner.

#![allow(clippy::unwrap_used, clippy::panic)]

mod abi;
mod harness;
mod market;
mod mining;
mod token;
