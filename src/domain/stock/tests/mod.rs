//! Tests of the stock domain: the worked examples of the contract, the recorded golden
//! samples (rebuilt from the legacy seed data of `sole-llc`), the schedule rules and the
//! engine's invariants.

mod engine;
mod fixture;
mod golden;
mod goldens;
mod rules;
