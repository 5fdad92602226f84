# shellcheck shell=bash
# Sections of scripts/bench that need a seeded database: `auth` (issue 3) and `people`
# (issue 4). Sourced by scripts/bench, which provides the helpers used here.

LEGACY_LOGIN_RPS=5.4
LEGACY_LOGIN_P50_MS=2100
LEGACY_ME_RPS=459
LEGACY_ME_P50_MS=84

BENCH_ORG=bench-org
BENCH_EMAIL=employee-bench-org@example.com
BENCH_PASSWORD='Bench#Password2026'
BENCH_DBS=()

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 "$BENCH_DATABASE_URL" "$@"; }

db_url_for() { # NAME -> the URL of database NAME on the bench server
  python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' \
    "$BENCH_DATABASE_URL" "$1"
}

drop_bench_dbs() {
  local name
  for name in "${BENCH_DBS[@]}"; do
    psql_admin -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
}

# prepare_db MEMBERS: a throwaway database, migrated and seeded by sole itself (legacy argon2
# parameters), plus MEMBERS extra active members. Sets BENCH_DB_URL.
prepare_db() {
  local members=$1 name
  name="sole_bench_$$_$RANDOM"
  psql_admin -c "CREATE DATABASE \"$name\""
  BENCH_DBS+=("$name")
  BENCH_DB_URL=$(db_url_for "$name")
  log "database $name: migrate and seed"
  env -i PATH="$PATH" DATABASE_URL="$BENCH_DB_URL" DB_SSL=false LOG_LEVEL=warn \
    "$SOLE_BIN" --no-dotenv migrate >&2
  env -i PATH="$PATH" DATABASE_URL="$BENCH_DB_URL" DB_SSL=false LOG_LEVEL=warn ENVIRONMENT=development \
    DEFAULT_ORG_ID=$BENCH_ORG DEFAULT_ORG_NAME="Bench Org" DEFAULT_ORG_SLUG=$BENCH_ORG \
    SEED_ADMIN_EMAIL=admin@example.com SEED_ADMIN_PASSWORD="$BENCH_PASSWORD" \
    "$SOLE_BIN" --no-dotenv seed >&2
  # The demo employee signs in without MFA. A direct user.view grant (not a sensitive
  # permission) lets it list users; its first-login password change is cleared.
  psql -X -q -v ON_ERROR_STOP=1 "$BENCH_DB_URL" >&2 <<SQL
UPDATE identities SET must_change_password = false, last_active_at = now() WHERE email = '$BENCH_EMAIL';
INSERT INTO user_permissions (id, org_id, user_id, permissions, effect)
SELECT gen_random_uuid(), u.org_id, u.id, '["user.view"]'::jsonb, 'allow'
FROM users u WHERE u.email = '$BENCH_EMAIL' AND u.org_id = '$BENCH_ORG';
CREATE TEMP TABLE bench_ids AS
  SELECT g, gen_random_uuid() AS identity_id, gen_random_uuid() AS user_id,
         gen_random_uuid() AS membership_id
  FROM generate_series(1, $members) AS g;
INSERT INTO identities (id, email, hashed_password, must_change_password, is_active)
  SELECT identity_id, 'member' || g || '@bench.example.com',
         (SELECT hashed_password FROM identities WHERE email = '$BENCH_EMAIL'), false, true
  FROM bench_ids;
INSERT INTO users (id, org_id, email, is_active, is_superuser, identity_id)
  SELECT user_id, '$BENCH_ORG', 'member' || g || '@bench.example.com', true, false, identity_id FROM bench_ids;
INSERT INTO org_memberships (id, org_id, user_id, employee_id, employment_status, platform_status,
                             invitation_status, invited_at, accepted_at)
  SELECT membership_id, '$BENCH_ORG', user_id, 'BENCH-' || g, 'ACTIVE', 'ACTIVE', 'ACCEPTED', now(), now()
  FROM bench_ids;
INSERT INTO org_user_profiles (id, org_id, membership_id, full_name, first_name, last_name, country, timezone)
  SELECT gen_random_uuid(), '$BENCH_ORG', membership_id, 'Member ' || g, 'Member', g::text, 'US',
         'America/New_York'
  FROM bench_ids;
INSERT INTO user_roles (id, org_id, user_id, role_id)
  SELECT gen_random_uuid(), '$BENCH_ORG', b.user_id, r.id
  FROM bench_ids b JOIN roles r ON r.org_id = '$BENCH_ORG' AND r.name = 'EMPLOYEE';
ANALYZE;
SQL
}

# start_sole_on DB_URL PORT: sole against the seeded database, with Redis when one answers on
# 127.0.0.1:6379, and a login rate limit that does not get in the way of a load test.
start_sole_on() {
  local url=$1 port=$2 redis=()
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    redis=(REDIS_URL=redis://127.0.0.1:6379 REDIS_KEY_PREFIX="bench$$")
  fi
  BENCH_DATABASE_URL=$url start_sole "$port" "${redis[@]}" RATE_LIMIT_PER_MINUTE=1000000000 \
    TENANCY_MODE=multi DEFAULT_ORG_ID=$BENCH_ORG DB_POOL_SIZE=16
}

json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)["data"][sys.argv[1]])' "$1"; }

# sign_in PORT -> an access token of the bench employee.
sign_in() {
  local port=$1 pre
  pre=$(curl -sf -H 'Content-Type: application/json' \
    -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" \
    "http://127.0.0.1:$port/api/v1/auth/login" | json_field pre_org_token)
  curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $pre" \
    -d "{\"org_id\":\"$BENCH_ORG\"}" "http://127.0.0.1:$port/api/v1/auth/select-org" |
    json_field access_token
}

# wrk_with URL DURATION [wrk args...] -> WRK_RESULT "req/s p50_ms p99_ms"; fails on non-2xx.
wrk_with() {
  local url=$1 duration=$2 out rps p50 p99 bad
  shift 2
  out=$(timeout 120 wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$duration" --latency "$@" "$url") ||
    die "wrk failed on $url"
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  [[ -n $rps && -n $p50 && -n $p99 ]] || { printf '%s\n' "$out" >&2; die "cannot parse wrk output"; }
  [[ -z $bad ]] || { printf '%s\n' "$out" >&2; die "$bad non-2xx answers from $url"; }
  WRK_RESULT="$rps $(to_ms "$p50") $(to_ms "$p99")"
}

# median_runs CMD...: WRK_RUNS runs of CMD (which sets WRK_RESULT) -> RPS P50 P99 RUNS_RPS.
median_runs() {
  local runs=() i
  for ((i = 0; i < WRK_RUNS; i++)); do
    "$@"
    runs+=("$WRK_RESULT")
    log "run $((i + 1)): ${runs[-1]} (req/s p50_ms p99_ms)"
  done
  RPS=$(printf '%s\n' "${runs[@]}" | awk '{print $1}' | median)
  P50=$(printf '%s\n' "${runs[@]}" | awk '{print $2}' | median)
  P99=$(printf '%s\n' "${runs[@]}" | awk '{print $3}' | median)
  RUNS_RPS=$(printf '%s\n' "${runs[@]}" | awk '{printf "%s%s", sep, int($1 + 0.5); sep = " / "}')
}

section_auth() {
  trap 'drop_bench_dbs; cleanup' EXIT
  prepare_db 0
  local port base
  port=$(free_port)
  start_sole_on "$BENCH_DB_URL" "$port"
  wait_200 "$BG_PID" "$port" /api/v1/health/live || { cat "$TMP/sole.log" >&2; die "sole did not start"; }
  base="http://127.0.0.1:$port/api/v1"

  log "argon2 reference: examples/argon2_rate at the legacy parameters"
  local ref_line ref_rate single_ms
  ref_line=$(cargo run --release --quiet --example argon2_rate -- 65536 3 4 5)
  log "$ref_line"
  ref_rate=$(sed -E 's/.*cores: ([0-9.]+) verifies\/s.*/\1/' <<<"$ref_line")
  single_ms=$(sed -E 's/.*single verify ([0-9.]+) ms.*/\1/' <<<"$ref_line")

  cat >"$TMP/login.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"email":"$BENCH_EMAIL","password":"$BENCH_PASSWORD"}'
wrk.headers["Content-Type"] = "application/json"
LUA
  log "login: $WRK_RUNS × wrk $WRK_DURATION, /health/live probed every 10 ms alongside"
  local lruns=() hp99s=() i hpid
  for ((i = 0; i < WRK_RUNS; i++)); do
    python3 "$ROOT/scripts/bench.d/probe.py" "$port" /api/v1/health/live "${WRK_DURATION%s}" 10 \
      >"$TMP/health-during.txt" &
    hpid=$!
    wrk_with "$base/auth/login" "$WRK_DURATION" -s "$TMP/login.lua"
    wait "$hpid" || die "the /health/live probe failed"
    lruns+=("$WRK_RESULT")
    hp99s+=("$(awk '{print $1}' "$TMP/health-during.txt")")
    log "login run $((i + 1)): ${lruns[-1]}; /health/live p99 ${hp99s[-1]} ms ($(awk '{print $2}' "$TMP/health-during.txt") probes)"
  done
  local lrps lp50 lp99 hp99 lruns_txt login_of_ref
  lrps=$(printf '%s\n' "${lruns[@]}" | awk '{print $1}' | median)
  lp50=$(printf '%s\n' "${lruns[@]}" | awk '{print $2}' | median)
  lp99=$(printf '%s\n' "${lruns[@]}" | awk '{print $3}' | median)
  hp99=$(printf '%s\n' "${hp99s[@]}" | median)
  lruns_txt=$(printf '%s\n' "${lruns[@]}" | awk '{printf "%s%.1f", sep, $1; sep = " / "}')
  login_of_ref=$(awk -v a="$lrps" -v b="$ref_rate" 'BEGIN {printf "%.0f", 100 * a / b}')

  local token h1 h2
  token=$(sign_in "$port")
  h1="Authorization: Bearer $token"
  h2="X-Org-Id: $BENCH_ORG"
  log "/auth/me: warm-up, then $WRK_RUNS × wrk"
  wrk_with "$base/auth/me" "$WRK_WARMUP" -H "$h1" -H "$h2"
  median_runs wrk_with "$base/auth/me" "$WRK_DURATION" -H "$h1" -H "$h2"
  local mrps=$RPS mp50=$P50 mp99=$P99 mruns=$RUNS_RPS
  stop_pid "$BG_PID"

  # The statements /auth/me sends (tenant check, guard, name and roles), run by pgbench: the
  # database round-trip limit of this machine for this request.
  local uid pg_tps me_x_legacy me_of_pg
  uid=$(psql -X -At "$BENCH_DB_URL" -c "SELECT id FROM users WHERE email = '$BENCH_EMAIL'")
  cat >"$TMP/me.sql" <<SQL
SELECT EXISTS (SELECT 1 FROM orgs WHERE id = '$BENCH_ORG'), EXISTS (SELECT 1 FROM org_memberships WHERE org_id = '$BENCH_ORG' AND user_id = '$uid');
SELECT u.id, u.is_active, i.token_version, i.last_active_at, m.id, m.employment_status FROM users u JOIN identities i ON i.id = u.identity_id LEFT JOIN org_memberships m ON m.org_id = '$BENCH_ORG' AND m.user_id = u.id WHERE u.id = '$uid';
SELECT (SELECT p.full_name FROM org_user_profiles p JOIN org_memberships m ON m.id = p.membership_id AND m.org_id = p.org_id WHERE m.org_id = '$BENCH_ORG' AND m.user_id = '$uid'), ARRAY(SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.org_id = '$BENCH_ORG' AND ur.user_id = '$uid' ORDER BY r.name);
SQL
  log "pgbench: the /auth/me statements, $WRK_CONNECTIONS clients, 10 s"
  pg_tps=$(pgbench -n -c "$WRK_CONNECTIONS" -j "$WRK_THREADS" -T 10 -f "$TMP/me.sql" "$BENCH_DB_URL" 2>/dev/null |
    awk '/^tps = / {print $3; exit}')
  me_x_legacy=$(awk -v a="$mrps" -v b="$LEGACY_ME_RPS" 'BEGIN {printf "%.1f", a / b}')
  me_of_pg=$(awk -v a="$mrps" -v b="$pg_tps" 'BEGIN {printf "%.0f", 100 * a / b}')

  cat <<EOF
## \`POST /auth/login\` and \`GET /auth/me\`

$(machine_line)

Command: \`$INVOCATION\` (release build). A throwaway database migrated and seeded by \`sole\`
itself (argon2id at the legacy parameters m=65536, t=3, p=4); \`sole serve\` with Redis,
\`DB_POOL_SIZE=16\` and the login rate limit lifted. Load: \`wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION --latency\`,
median of $WRK_RUNS runs; during each login run a probe on one keep-alive connection calls \`/health/live\` every 10 ms (\`scripts/bench.d/probe.py\`), as a health checker would.
Login reference: \`cargo run --release --example argon2_rate -- 65536 3 4 5\`, one verifying
thread per core for 5 s. \`/auth/me\` reference: \`pgbench -n -c$WRK_CONNECTIONS -j$WRK_THREADS -T10\` running,
per transaction, the three statements \`/auth/me\` sends, against the same database.

| figure | \`sole\` | reference | legacy |
|---|---:|---:|---:|
| \`POST /auth/login\` throughput | $(fmt "$lrps" 1) req/s | $(fmt "$ref_rate" 1) verifies/s (one verify: $(fmt "$single_ms" 1) ms) | $LEGACY_LOGIN_RPS req/s |
| \`POST /auth/login\` p50 / p99 | $(fmt "$lp50" 0) / $(fmt "$lp99" 0) ms | | $(fmt_int "$LEGACY_LOGIN_P50_MS") ms (p50) |
| \`/health/live\` p99 during the login load | $(fmt "$hp99" 2) ms | | |
| \`GET /auth/me\` throughput | $(fmt_int "$mrps") req/s | $(fmt_int "$pg_tps") tx/s (pgbench) | $LEGACY_ME_RPS req/s |
| \`GET /auth/me\` p50 / p99 | $(fmt "$mp50" 2) / $(fmt "$mp99" 2) ms | | $LEGACY_ME_P50_MS ms (p50) |

| target (DESIGN.md §9, issue 3) | measured | result |
|---|---:|---|
| login within 10% of the argon2 rate | $login_of_ref% | $(verdict ge "$login_of_ref" 90) |
| \`/health/live\` p99 < 5 ms during the login load | $(fmt "$hp99" 2) ms | $(verdict lt "$hp99" 5) |
| \`/auth/me\` > 20× legacy | ${me_x_legacy}× | $(verdict gt "$me_x_legacy" 20) |

\`/auth/me\` reaches $me_of_pg% of the pgbench rate of its own statements. Runs (req/s): login $lruns_txt; \`/auth/me\` $mruns.
EOF
}

section_people() {
  trap 'drop_bench_dbs; cleanup' EXIT
  prepare_db 1000
  local port base token h1 h2
  port=$(free_port)
  start_sole_on "$BENCH_DB_URL" "$port"
  wait_200 "$BG_PID" "$port" /api/v1/health/live || { cat "$TMP/sole.log" >&2; die "sole did not start"; }
  base="http://127.0.0.1:$port/api/v1"
  token=$(sign_in "$port")
  h1="Authorization: Bearer $token"
  h2="X-Org-Id: $BENCH_ORG"

  log "/self/context: warm-up, then $WRK_RUNS × wrk"
  wrk_with "$base/self/context" "$WRK_WARMUP" -H "$h1" -H "$h2"
  median_runs wrk_with "$base/self/context" "$WRK_DURATION" -H "$h1" -H "$h2"
  local crps=$RPS cp50=$P50 cp99=$P99 cruns=$RUNS_RPS
  local users="$base/org/users?page=1&page_size=20"
  log "/org/users: warm-up, then $WRK_RUNS × wrk"
  wrk_with "$users" "$WRK_WARMUP" -H "$h1" -H "$h2"
  median_runs wrk_with "$users" "$WRK_DURATION" -H "$h1" -H "$h2"
  local urps=$RPS up50=$P50 up99=$P99 uruns=$RUNS_RPS
  stop_pid "$BG_PID"

  log "pgbench -S on the same database (scale 10)"
  pgbench -i -q -s 10 "$BENCH_DB_URL" >/dev/null 2>&1
  local pg_tps target
  pg_tps=$(pgbench -n -S -c "$WRK_CONNECTIONS" -j "$WRK_THREADS" -T 10 "$BENCH_DB_URL" 2>/dev/null |
    awk '/^tps = / {print $3; exit}')
  target=$(awk -v b="$LEGACY_ME_RPS" 'BEGIN {print 20 * b}')

  cat <<EOF
## \`GET /self/context\` and \`GET /org/users\` on an org with 1,000 members

$(machine_line)

Command: \`$INVOCATION\` (release build). A throwaway database migrated and seeded by \`sole\`,
plus 1,000 active members with profiles and the EMPLOYEE role; the caller is the demo employee
with a direct \`user.view\` grant. \`sole serve\` with Redis and \`DB_POOL_SIZE=16\`. Load:
\`wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION --latency\`, median of $WRK_RUNS runs. Reference: \`pgbench -n -S -c$WRK_CONNECTIONS -j$WRK_THREADS -T10\`
(scale 10) on the same database. The legacy service answered \`GET /auth/me\` at $LEGACY_ME_RPS req/s
(p50 $LEGACY_ME_P50_MS ms) on this machine kind; every endpoint here pays at least that guard cost.

| figure | \`sole\` | target: > 20× legacy \`/auth/me\` | result |
|---|---:|---:|---|
| \`GET /self/context\` | $(fmt_int "$crps") req/s, p50 $(fmt "$cp50" 2) ms, p99 $(fmt "$cp99" 2) ms | $(fmt_int "$target") req/s | $(verdict gt "$crps" "$target") |
| \`GET /org/users?page=1&page_size=20\` | $(fmt_int "$urps") req/s, p50 $(fmt "$up50" 2) ms, p99 $(fmt "$up99" 2) ms | $(fmt_int "$target") req/s | $(verdict gt "$urps" "$target") |
| \`pgbench -S\` | $(fmt_int "$pg_tps") tx/s | | |

Runs (req/s): \`/self/context\` $cruns; \`/org/users\` $uruns.
EOF
}
