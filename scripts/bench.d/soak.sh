# shellcheck shell=bash
# The `soak` section of scripts/bench (issue 20): SOAK_SECONDS (default 300) of mixed traffic at
# a fixed rate below saturation — sign-ins, /auth/me, member list pages and profile writes —
# reported per SOAK_WINDOW (default 30 s) with p50/p99, errors and the server's RSS, so a leak or
# a slow drift shows. Sourced by scripts/bench after authenticated.sh (database and sign-in).

SOAK_SECONDS=${SOAK_SECONDS:-300}
SOAK_WINDOW=${SOAK_WINDOW:-30}

section_soak() {
  trap 'drop_bench_dbs; cleanup' EXIT
  prepare_db 1000
  local port token out
  port=$(free_port)
  start_sole_on "$BENCH_DB_URL" "$port"
  wait_200 "$BG_PID" "$port" /api/v1/health/live || { cat "$TMP/sole.log" >&2; die "sole did not start"; }
  token=$(sign_in "$port")
  local rss_start
  rss_start=$(rss_kb "$BG_PID")
  log "soak: ${SOAK_SECONDS}s of mixed traffic, windows of ${SOAK_WINDOW}s"
  out=$(python3 "$ROOT/scripts/bench.d/soak.py" "$port" "$BG_PID" "$token" "$BENCH_ORG" \
    "$BENCH_EMAIL" "$BENCH_PASSWORD" "$SOAK_SECONDS" "$SOAK_WINDOW") || die "soak driver failed"
  kill -0 "$BG_PID" 2>/dev/null || die "sole exited during the soak"
  local panics
  panics=$(grep -c '"panic"\|panicked' "$TMP/sole.log" || true)
  stop_pid "$BG_PID"

  local rows total statuses first_rss last_rss max_rss
  rows=$(grep '^window=' <<<"$out" | awk '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "| %d–%d s | %s | %s | %.2f | %.2f | %.1f |\n", (v["window"] - 1) * W, v["window"] * W,
      v["requests"], v["errors"], v["p50_ms"], v["p99_ms"], v["rss_kb"] / 1024
  }' W="$SOAK_WINDOW")
  total=$(grep '^total ' <<<"$out")
  statuses=$(sed -n 's/^status_counts=//p' <<<"$out")
  first_rss=$(grep '^window=' <<<"$out" | head -1 | sed -E 's/.*rss_kb=([0-9]+).*/\1/')
  last_rss=$(grep '^window=' <<<"$out" | tail -1 | sed -E 's/.*rss_kb=([0-9]+).*/\1/')
  max_rss=$(grep '^window=' <<<"$out" | sed -E 's/.*rss_kb=([0-9]+).*/\1/' | sort -n | tail -1)
  local -A t
  local kv
  for kv in ${total#total }; do t[${kv%%=*}]=${kv#*=}; done

  cat <<EOF
## Soak: ${SOAK_SECONDS} s of mixed traffic at a fixed rate

$(machine_line)

Command: \`SOAK_SECONDS=$SOAK_SECONDS SOAK_WINDOW=$SOAK_WINDOW $INVOCATION\` (release build;
\`scripts/bench.d/soak.py\` drives it). The database and server of the \`people\` section (1,000
members, Redis, \`DB_POOL_SIZE=16\`). Open-loop load, 101 requests per second: 1 sign-in (login +
select-org at the legacy argon2 parameters), 60 \`GET /auth/me\`, 30 \`GET /org/users\` pages
of 20 (pages 1–50 in turn) and 10 \`PATCH /self/profile\` writes (audited). Latency counts from
each request's scheduled start, so a stall shows as latency, not as a lower rate. RSS is the
server's \`VmRSS\` at the end of each window; a sign-in in flight at that instant adds its
64 MiB argon2 block (legacy parameters), freed when the verification ends.

| window | requests | errors | p50 ms | p99 ms | RSS MB |
|---|---:|---:|---:|---:|---:|
$rows
| **all** | ${t[requests]} | ${t[errors]} | $(fmt "${t[p50_ms]}" 2) | $(fmt "${t[p99_ms]}" 2) | |

Statuses: \`$statuses\` (0 = connection failure). RSS: $(fmt "$(awk -v a="$rss_start" 'BEGIN {print a / 1024}')" 1) MB
after sign-in, $(fmt "$(awk -v a="$first_rss" 'BEGIN {print a / 1024}')" 1) MB after the first window,
$(fmt "$(awk -v a="$last_rss" 'BEGIN {print a / 1024}')" 1) MB after the last (peak $(fmt "$(awk -v a="$max_rss" 'BEGIN {print a / 1024}')" 1) MB).
Panic lines in the server log: $panics.
EOF
}
