//! `mwsr::mirror`: a mirror of synchronous and write-behind members, checked
//! against real files and misbehaving test doubles: the write pace, where
//! reads go, failures and their offsets, policies and lag bounds, resync
//! and replace while writing, bad input, sync, panics, close and drop.

#[path = "../common/mod.rs"]
mod common;
mod doubles;
mod failures;
mod input;
mod policies;
mod reads;
mod resync;
mod scenario;
mod writes;
