//! Business operations. Every function takes `&mut PgConnection` and never commits: the HTTP
//! handler (or command) that owns the transaction commits once, after writing the audit row.
