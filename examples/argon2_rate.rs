//! Physical reference for the login benchmark: how many argon2id verifications per second
//! this machine can do at given parameters, with every core busy.
//!
//! `cargo run --release --example argon2_rate -- [memory_kib] [iterations] [parallelism] [seconds]`
//! (defaults: the legacy 65536 3 4, 5 s). Prints one hash's time and the all-cores rate.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use sole::auth::password::PasswordHasher;
use sole::config::Argon2Settings;

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let settings = Argon2Settings {
        memory_kib: *args.first().unwrap_or(&65_536),
        iterations: *args.get(1).unwrap_or(&3),
        parallelism: *args.get(2).unwrap_or(&4),
    };
    let seconds = u64::from(*args.get(3).unwrap_or(&5));
    let hasher = PasswordHasher::new(&settings).expect("valid argon2 parameters");
    let phc = hasher.hash("Correct#Horse42battery").unwrap();

    // One verification at a time: the latency of a single login's hash.
    let n = 10;
    let t = Instant::now();
    for _ in 0..n {
        assert!(hasher.verify("Correct#Horse42battery", &phc));
    }
    let single_ms = t.elapsed().as_secs_f64() * 1000.0 / f64::from(n);

    // All cores busy: one verifying thread per core for `seconds`.
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let t = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..cores)
            .map(|_| {
                s.spawn(|| {
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        assert!(hasher.verify("Correct#Horse42battery", &phc));
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let rate = total as f64 / t.elapsed().as_secs_f64();
    println!(
        "argon2id m={} t={} p={}: single verify {:.1} ms; {} cores: {:.1} verifies/s; cores/hash_time = {:.1}/s",
        settings.memory_kib,
        settings.iterations,
        settings.parallelism,
        single_ms,
        cores,
        rate,
        cores as f64 * 1000.0 / single_ms
    );
}
