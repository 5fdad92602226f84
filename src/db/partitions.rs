//! Per-org partitions of `audit_logs` and `journal_entries`.
