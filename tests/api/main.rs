//! Black-box tests: the real router on 127.0.0.1:0, a per-test database cloned from a migrated
//! template, a per-test Redis key prefix, reqwest with a cookie store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixtures;
mod helpers;

mod announcement_stream;
mod announcements;
mod auth_login;
mod health;
mod meta;
mod migrate;
