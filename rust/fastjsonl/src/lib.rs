//! fastjsonl: the JSONL core of rollout-harness.
//!
//! Everything here is plain Rust that `cargo test` covers; `python` (behind the `python`
//! feature, which maturin turns on) is the thin PyO3 layer that `harness.jsonl` calls.
//!
//! The flow of every operation: [`input`] opens the inputs (regular files, or streams such as
//! pipes and stdin), [`chunks`] cuts them into newline-aligned chunks (byte ranges of a regular
//! file, read by the thread that parses them; a stream, read front to back), [`pipeline`]
//! parses chunks in parallel with [`parse::Parser`] (a validating parser that records where the
//! values at some JSON pointers sit) and consumes the results in input order, and each
//! operation ([`scan`], [`dedup`], [`split`], [`filter`], [`count`], [`columns`]) decides what to keep from
//! each record.

pub mod chunks;
pub mod columns;
pub mod copy;
pub mod count;
pub mod dedup;
pub mod error;
pub mod filter;
pub mod input;
pub mod keys;
pub mod lookup;
pub mod output;
pub mod parse;
pub mod pipeline;
pub mod pointer;
pub mod records;
pub mod scan;
pub mod split;
pub mod value;

#[cfg(feature = "python")]
mod python;
