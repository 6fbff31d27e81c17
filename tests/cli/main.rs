//! Integration tests of the `netabase` binary: every subcommand, its output and its errors, run
//! as a user runs them. Networks are on 127.0.0.1 only; every command and wait is bounded.
//!
//! One test binary holds every module, so the suite links once.

mod args;
#[cfg(unix)] // Unix sockets, and stops nodes with `kill -INT`
mod control;
mod demo;
mod examples;
mod inspect;
mod key;
#[cfg(unix)] // stops nodes with `kill -INT`
mod metrics;
#[cfg(unix)] // stops nodes with `kill -INT`
mod node;
#[cfg_attr(not(unix), allow(dead_code))]
mod support;
