//! `sole`: the SOLE platform core in one binary.

pub mod auth;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod db;
pub mod domain;
pub mod guard_cache;
pub mod http;
pub mod pubsub;
pub mod services;
pub mod storage;
pub mod telemetry;
pub mod timefmt;
