//! The fault suite: the built `sole serve` against a PostgreSQL and a Redis of its own (one
//! pair per test, in a temporary directory, on free ports), under a small steady load of reads
//! and writes while a dependency fails.
//!
//! Its own servers because the faults are whole-server ones (a PostgreSQL restart, Redis
//! stopped or put to sleep) that must never reach the shared servers other tests use. Every
//! scenario asserts what a client may see (2xx/4xx, or 503 in the error envelope; never a
//! 500), that the server logged no panic, that requests succeed again without restarting
//! `sole`, and that no write was lost or half-written: each `POST /departments` that answered
//! 201 left its department and exactly one `department.created` audit row, each that failed
//! left neither.
//!
//! `scripts/test` exports the server binaries (`SOLE_TEST_PG_BIN`, `SOLE_TEST_REDIS_SERVER`);
//! without them the tests look in `/usr/lib/postgresql/*/bin` and `PATH`, and fail naming what
//! is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod postgres;
mod redis;
mod shutdown;
mod support;
