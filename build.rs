// sqlx::migrate! embeds migrations/ at compile time, but on stable Rust cargo cannot see which
// files a proc macro read: without this, a new or edited migration leaves a stale binary (and a
// test suite that runs the old migrations) until some source file changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
