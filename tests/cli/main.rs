//! The `sole` binary as users and operators run it, one test binary for every command (one link
//! of the crate instead of six): `--help` and `config check`, `setup-env`, `release` against a
//! fake `gcloud`, `healthcheck`, `serve` as a process, and `lint-commits`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod config;
mod healthcheck;
mod lint_commits;
mod panic_hook;
mod release;
mod serve;
mod setup_env;
mod support;
