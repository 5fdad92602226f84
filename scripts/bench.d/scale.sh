# shellcheck shell=bash
# The `scale` section of scripts/bench (issue 19): what one request costs, per endpoint, for a
# deployment that scales out (instances multiply, the database does not). For /health/live,
# /auth/me, /self/context and /org/users on an org with 1,000 members: req/s and p50/p99 under
# wrk, the CPU `sole` spends per request, the CPU PostgreSQL spends per request (its backends
# serving this database), the statements per request counted at the wire
# (scripts/bench.d/stmtcount.py), and the pgbench rate of the endpoint's own statements.
# SCALE_BEFORE_BIN=path/to/an/older/sole runs the same with that binary too, runs alternated,
# so a change is compared within one run. Sourced by scripts/bench after authenticated.sh,
# whose database, server and sign-in helpers it uses.

CLK_TCK=$(getconf CLK_TCK)
SCALE_COUNT_REQUESTS=${SCALE_COUNT_REQUESTS:-400}

# cpu_ticks PID... -> utime+stime of those processes, in clock ticks (gone ones count 0).
cpu_ticks() {
  local p total=0 t
  for p in "$@"; do
    t=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null) || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

# The PostgreSQL backends serving the bench database (sole's pool), as PIDs.
bench_backends() {
  psql -X -At "$BENCH_DB_URL" -c "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
}

# scale_run URL PID [wrk args...] -> SCALE_RESULT "rps p50_ms p99_ms sole_us_per_req pg_us_per_req"
scale_run() {
  local url=$1 pid=$2 out requests rps p50 p99 bad s0 s1 g0 g1 backends
  shift 2
  mapfile -t backends < <(bench_backends)
  s0=$(cpu_ticks "$pid")
  g0=$(cpu_ticks "${backends[@]}")
  out=$(timeout 120 wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$WRK_DURATION" --latency "$@" "$url") ||
    die "wrk failed on $url"
  s1=$(cpu_ticks "$pid")
  g1=$(cpu_ticks "${backends[@]}")
  requests=$(awk '/ requests in / {print $1}' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  [[ -n $requests && -n $rps && -n $p50 && -n $p99 ]] || { printf '%s\n' "$out" >&2; die "cannot parse wrk output"; }
  [[ -z $bad ]] || { printf '%s\n' "$out" >&2; die "$bad non-2xx answers from $url"; }
  SCALE_RESULT="$rps $(to_ms "$p50") $(to_ms "$p99") $(awk -v t=$((s1 - s0)) -v n="$requests" -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", 1e6 * t / hz / n}') $(awk -v t=$((g1 - g0)) -v n="$requests" -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", 1e6 * t / hz / n}')"
}

# count_statements BIN PORT_LABEL -> sets SCALE_STMTS[endpoint] for BIN: sole through the
# counting relay, SCALE_COUNT_REQUESTS sequential requests per endpoint after a warm-up.
count_statements() {
  local bin=$1 label=$2 relay_port control_port port url base token name before after
  relay_port=$(free_port)
  control_port=$(free_port)
  local pg_host pg_port
  pg_host=$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).hostname or "127.0.0.1")' "$BENCH_DB_URL")
  pg_port=$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).port or 5432)' "$BENCH_DB_URL")
  start_bg "$TMP/relay.log" python3 "$ROOT/scripts/bench.d/stmtcount.py" "$relay_port" "$control_port" "$pg_host" "$pg_port"
  local relay_pid=$BG_PID
  url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); user = p.username or "postgres"; print(u.urlunsplit(p._replace(netloc=f"{user}@127.0.0.1:{sys.argv[2]}")) + "?sslmode=disable")' "$BENCH_DB_URL" "$relay_port")
  port=$(free_port)
  SOLE_BIN=$bin start_sole_on "$url" "$port"
  wait_200 "$BG_PID" "$port" /api/v1/health/live || { cat "$TMP/sole.log" >&2; die "sole ($label) did not start through the relay"; }
  base="http://127.0.0.1:$port"
  token=$(sign_in "$port")
  for name in "${SCALE_ENDPOINTS[@]}"; do
    python3 "$ROOT/scripts/bench.d/requests.py" "$base${SCALE_PATHS[$name]}" 50 "$token" "$BENCH_ORG" >/dev/null
    before=$(python3 "$ROOT/scripts/bench.d/requests.py" --control "$control_port")
    python3 "$ROOT/scripts/bench.d/requests.py" "$base${SCALE_PATHS[$name]}" "$SCALE_COUNT_REQUESTS" "$token" "$BENCH_ORG" >/dev/null
    after=$(python3 "$ROOT/scripts/bench.d/requests.py" --control "$control_port")
    SCALE_STMTS[$label.$name]=$(awk -v a="$before" -v b="$after" -v n="$SCALE_COUNT_REQUESTS" 'BEGIN {printf "%.2f", (b - a) / n}')
    log "$label $name: ${SCALE_STMTS[$label.$name]} statements per request"
  done
  stop_pid "$BG_PID"
  stop_pid "$relay_pid"
}

section_scale() {
  trap 'drop_bench_dbs; cleanup' EXIT
  prepare_db 1000
  declare -gA SCALE_PATHS=(
    [live]=/api/v1/health/live
    [me]=/api/v1/auth/me
    [context]=/api/v1/self/context
    [users]="/api/v1/org/users?page=1&page_size=20"
  )
  declare -gA SCALE_LABELS=(
    [live]='`GET /health/live`'
    [me]='`GET /auth/me`'
    [context]='`GET /self/context`'
    [users]='`GET /org/users?page_size=20` (1,000 members)'
  )
  SCALE_ENDPOINTS=(live me context users)
  declare -gA SCALE_STMTS=()
  local bins=(after) label
  local -A bin_of=([after]=$SOLE_BIN)
  if [[ -n ${SCALE_BEFORE_BIN:-} ]]; then
    [[ -x $SCALE_BEFORE_BIN ]] || die "SCALE_BEFORE_BIN=$SCALE_BEFORE_BIN is not an executable"
    bins=(before after)
    bin_of[before]=$SCALE_BEFORE_BIN
  fi

  for label in "${bins[@]}"; do
    count_statements "${bin_of[$label]}" "$label"
  done

  # Load: one server per binary, both up, runs alternated between them. Production logging
  # (LOG_LEVEL=info, JSON lines on stdout, here into a file), as Cloud Run runs it.
  local -A port_of pid_of token_of
  for label in "${bins[@]}"; do
    port_of[$label]=$(free_port)
    SOLE_BIN=${bin_of[$label]} start_sole_on "$BENCH_DB_URL" "${port_of[$label]}" LOG_LEVEL=info LOG_FORMAT=json
    pid_of[$label]=$BG_PID
    wait_200 "$BG_PID" "${port_of[$label]}" /api/v1/health/live || { cat "$TMP/sole.log" >&2; die "sole ($label) did not start"; }
    token_of[$label]=$(sign_in "${port_of[$label]}")
  done

  local name i url
  declare -A RESULTS=()
  for name in "${SCALE_ENDPOINTS[@]}"; do
    for label in "${bins[@]}"; do
      url="http://127.0.0.1:${port_of[$label]}${SCALE_PATHS[$name]}"
      log "$name ($label): warm-up"
      wrk_with "$url" "$WRK_WARMUP" -H "Authorization: Bearer ${token_of[$label]}" -H "X-Org-Id: $BENCH_ORG"
    done
    for ((i = 0; i < WRK_RUNS; i++)); do
      for label in "${bins[@]}"; do
        url="http://127.0.0.1:${port_of[$label]}${SCALE_PATHS[$name]}"
        scale_run "$url" "${pid_of[$label]}" -H "Authorization: Bearer ${token_of[$label]}" -H "X-Org-Id: $BENCH_ORG"
        RESULTS[$label.$name]+="$SCALE_RESULT"$'\n'
        log "$name ($label) run $((i + 1)): $SCALE_RESULT (req/s p50 p99 sole_us pg_us)"
      done
    done
  done
  for label in "${bins[@]}"; do stop_pid "${pid_of[$label]}"; done

  # The endpoints' own statements in pgbench (the guard is warm: it sends none).
  local uid
  uid=$(bench_user_id)
  me_sql "$uid" >"$TMP/scale-me.sql"
  context_sql "$uid" >"$TMP/scale-context.sql"
  users_page_sql "$uid" >"$TMP/scale-users.sql"
  local -A pg_tps=([live]="")
  for name in me context users; do
    log "pgbench: the $name statements"
    pg_tps[$name]=$(pgbench_tps "$TMP/scale-$name.sql")
  done

  local col
  med() { printf '%s' "${RESULTS[$1]}" | awk -v c="$2" 'NF {print $c}' | median; }
  cat <<EOF
## What one request costs: CPU and statements per request (issue 19)

$(machine_line)

Command: \`$INVOCATION\` (release build$([[ -n ${SCALE_BEFORE_BIN:-} ]] && printf '; "before" is `SCALE_BEFORE_BIN`, %s' "${SCALE_BEFORE_NAME:-an older build}")). A throwaway database migrated and seeded by
\`sole\`, plus 1,000 active members; the caller is the demo employee with a direct \`user.view\`
grant. \`sole serve\` with Redis, \`DB_POOL_SIZE=16\` and production logging (\`LOG_LEVEL=info\`,
one JSON line per request, into a file). Load: \`wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION --latency\`, median of $WRK_RUNS
runs$([[ ${#bins[@]} -gt 1 ]] && printf ', alternated between the two builds (both servers up)'). CPU per request: utime+stime of the \`sole\` process, and of
the PostgreSQL backends serving this database, over a run, divided by the requests wrk
completed; wrk shares the same $(nproc) CPUs. Statements per request: counted at the wire by
\`scripts/bench.d/stmtcount.py\` (every \`Q\` and \`E\` message), over $SCALE_COUNT_REQUESTS sequential requests after 50
of warm-up, on a second server started through it. pgbench: \`pgbench -n -M prepared -c$WRK_CONNECTIONS -j$WRK_THREADS -T$PGBENCH_SECONDS\`
running the endpoint's own statement (the guard is warm and sends none), on the same database.

| endpoint | build | req/s | p50 / p99 | \`sole\` CPU per request | PostgreSQL CPU per request | statements per request | pgbench rate of its statements | req/s as a share of pgbench |
|---|---|---:|---:|---:|---:|---:|---:|---:|
EOF
  for name in "${SCALE_ENDPOINTS[@]}"; do
    for label in "${bins[@]}"; do
      local rps p50 p99 scpu gcpu share tps
      rps=$(med "$label.$name" 1)
      p50=$(med "$label.$name" 2)
      p99=$(med "$label.$name" 3)
      scpu=$(med "$label.$name" 4)
      gcpu=$(med "$label.$name" 5)
      tps=${pg_tps[$name]}
      if [[ -n $tps ]]; then
        share="$(awk -v a="$rps" -v b="$tps" 'BEGIN {printf "%.0f", 100 * a / b}')%"
        tps="$(fmt_int "$tps") tx/s"
      else
        share="—"
        tps="—"
      fi
      printf '| %s | %s | %s | %s / %s ms | %s µs | %s µs | %s | %s | %s |\n' \
        "${SCALE_LABELS[$name]}" "$label" "$(fmt_int "$rps")" "$(fmt "$p50" 2)" "$(fmt "$p99" 2)" \
        "$scpu" "$gcpu" "${SCALE_STMTS[$label.$name]}" "$tps" "$share"
    done
  done
  if [[ ${#bins[@]} -gt 1 ]]; then
    printf '\n| endpoint | req/s after ÷ before | `sole` CPU per request after ÷ before | PostgreSQL CPU per request after ÷ before |\n|---|---:|---:|---:|\n'
    for name in "${SCALE_ENDPOINTS[@]}"; do
      printf '| %s | %s× | %s | %s |\n' "${SCALE_LABELS[$name]}" \
        "$(awk -v a="$(med "after.$name" 1)" -v b="$(med "before.$name" 1)" 'BEGIN {printf "%.2f", a / b}')" \
        "$(awk -v a="$(med "after.$name" 4)" -v b="$(med "before.$name" 4)" 'BEGIN {printf "%.0f%%", 100 * a / b}')" \
        "$(awk -v a="$(med "after.$name" 5)" -v b="$(med "before.$name" 5)" 'BEGIN {if (b > 0) printf "%.0f%%", 100 * a / b; else print "—"}')"
    done
  fi
  printf '\nRuns (req/s):'
  for name in "${SCALE_ENDPOINTS[@]}"; do
    for label in "${bins[@]}"; do
      col=$(printf '%s' "${RESULTS[$label.$name]}" | awk 'NF {printf "%s%d", sep, $1 + 0.5; sep = " / "}')
      printf ' %s %s %s;' "$name" "$label" "$col"
    done
  done
  printf '\n'
}
