# shellcheck shell=bash
# The `loans` section of scripts/bench (issue 17): the loan engine's CPU cost per quote and per
# schedule, timed in-process on the release build by examples/loan_engine_bench.rs (pure CPU:
# no database, no HTTP). Sourced by scripts/bench.

section_loans() {
  log "cargo build --release --example loan_engine_bench"
  cargo build --release --quiet --example loan_engine_bench >&2
  local out
  out=$("$ROOT/target/release/examples/loan_engine_bench") || die "loan_engine_bench failed"
  [[ -n $out ]] || die "loan_engine_bench printed nothing"
  cat <<EOF
## Loan engine: quotes and schedules (pure CPU)

$(machine_line)

Command: \`BENCH_MS=${BENCH_MS:-1500} $INVOCATION\` (release build; \`examples/loan_engine_bench.rs\`,
one thread, ${BENCH_MS:-1500} ms per case after a warm-up). Inputs: the sample borrower of
\`domain-loans.md\` §4.6 (a SCHEDULED and an IMMEDIATE grant, 500 shares already reserved) under
the samples' policy (FIXED 6.5 % and VARIABLE PBGC 3.81 + 1.125, P&I and BALLOON, 6..60 months).
A quote is everything \`POST /me/loan-applications/quote\` computes after its database reads:
vesting totals and eligibility, the allocation over the grants and the four options. A schedule
is the full amortisation table of a 16,000.00 loan at 6.5 %. All arithmetic is decimal.

| case | ns per call | calls per second per core |
|---|---:|---:|
$(while IFS=$'\t' read -r name ns rate; do printf '| %s | %s | %s |\n' "$name" "$(fmt_int "$ns")" "$(fmt_int "$rate")"; done <<<"$out")

A request spends far more time in PostgreSQL and on the wire than in these figures: the engine
is not what limits the loan routes.
EOF
}
