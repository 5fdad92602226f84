# shellcheck shell=bash
# Sections of scripts/bench that need a seeded database: `auth` (issue 3) and `people`
# (issue 4). Sourced by scripts/bench, which provides the helpers used here.

LEGACY_LOGIN_RPS=5.4
LEGACY_LOGIN_P50_MS=2100
LEGACY_LOGIN_RSS_MB=513
LEGACY_ME_RPS=459
LEGACY_ME_P50_MS=84
# pgbench -S on the machine the legacy figures were measured on (DESIGN.md §9).
DESIGN_PGBENCH_S_TPS=57661

BENCH_ORG=bench-org
BENCH_EMAIL=employee-bench-org@example.com
BENCH_PASSWORD='Bench#Password2026'
BENCH_DBS=()

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 "$BENCH_DATABASE_URL" "$@"; }

db_url_for() { # NAME -> the URL of database NAME on the bench server
  python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' \
    "$BENCH_DATABASE_URL" "$1"
}

# Runs first in the sections' EXIT traps: it hands the script's exit status on to cleanup,
# which exits with it (a failed section must not exit 0).
drop_bench_dbs() {
  local rc=$? name
  for name in "${BENCH_DBS[@]}"; do
    psql_admin -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  return "$rc"
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

# start_sole_on DB_URL PORT [KEY=VALUE...]: sole against the seeded database, with Redis when
# one answers on 127.0.0.1:6379, and a login rate limit that does not get in the way of a load
# test; extra settings come last and win.
start_sole_on() {
  local url=$1 port=$2 redis=()
  shift 2
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    redis=(REDIS_URL=redis://127.0.0.1:6379 REDIS_KEY_PREFIX="bench$$")
  fi
  BENCH_DATABASE_URL=$url start_sole "$port" "${redis[@]}" RATE_LIMIT_PER_MINUTE=1000000000 \
    TENANCY_MODE=multi DEFAULT_ORG_ID=$BENCH_ORG DB_POOL_SIZE=16 "$@"
}

# The statements sole sends per request, with the bench employee's ids as literals, for pgbench.
# They mirror the SQL of src/services (named on each); keep them in step when that changes.
bench_user_id() { psql -X -At "$BENCH_DB_URL" -c "SELECT id FROM users WHERE email = '$BENCH_EMAIL'"; }

guard_sql() { # users::guard_check: tenant, membership, user, identity and membership state
  cat <<SQL
SELECT EXISTS (SELECT 1 FROM orgs WHERE id = '$BENCH_ORG') AS org_exists, EXISTS (SELECT 1 FROM org_memberships WHERE org_id = '$BENCH_ORG' AND user_id = '$1') AS has_membership, c.* FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT u.id AS user_id, u.org_id AS user_org_id, u.email AS user_email, u.is_active AS user_is_active, u.is_superuser, u.created_at AS user_created_at, u.identity_id AS user_identity_id, i.id AS identity_id, i.email AS identity_email, i.is_active AS identity_is_active, i.token_version, i.last_active_at, i.must_change_password, i.mfa_enabled, m.id AS membership_id, m.employment_status, m.platform_status, m.invitation_status FROM users u JOIN identities i ON i.id = u.identity_id LEFT JOIN org_memberships m ON m.org_id = '$BENCH_ORG' AND m.user_id = u.id WHERE u.id = '$1') AS c ON true;
SQL
}

me_sql() { # users::me_snapshot
  cat <<SQL
SELECT (SELECT p.full_name FROM org_user_profiles p JOIN org_memberships m ON m.id = p.membership_id AND m.org_id = p.org_id WHERE m.org_id = '$BENCH_ORG' AND m.user_id = '$1'), ARRAY(SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id AND r.org_id = ur.org_id WHERE ur.org_id = '$BENCH_ORG' AND ur.user_id = '$1' ORDER BY r.name), COALESCE((SELECT jsonb_agg(r.permissions) FROM user_roles ur JOIN roles r ON r.id = ur.role_id AND r.org_id = ur.org_id WHERE ur.org_id = '$BENCH_ORG' AND ur.user_id = '$1'), '[]'::jsonb), up.permissions, up.effect FROM (SELECT 1) AS one LEFT JOIN user_permissions up ON up.org_id = '$BENCH_ORG' AND up.user_id = '$1' AND (up.expires_at IS NULL OR up.expires_at > now());
SQL
}

context_sql() { # self_context::snapshot (the permission check of /self/context reads Redis)
  cat <<SQL
SELECT o.id, o.name, o.slug, o.status, o.created_at, o.updated_at, COALESCE((SELECT s.session_timeout_minutes FROM org_settings s WHERE s.org_id = o.id), 5) AS session_timeout_minutes, COALESCE((SELECT json_agg(json_build_object('id', r.id, 'name', r.name, 'is_system_role', r.is_system_role, 'permissions', r.permissions) ORDER BY ur.created_at, r.name) FROM user_roles ur JOIN roles r ON r.id = ur.role_id AND r.org_id = ur.org_id WHERE ur.org_id = o.id AND ur.user_id = '$1'), '[]'::json) AS roles, up.permissions AS direct_permissions, up.effect AS direct_effect FROM orgs o LEFT JOIN user_permissions up ON up.org_id = o.id AND up.user_id = '$1' AND (up.expires_at IS NULL OR up.expires_at > now()) WHERE o.id = '$BENCH_ORG';
SQL
}

users_page_sql() { # members::list, no filter, page 1 of 20 (user.view is checked in Redis)
  cat <<SQL
SELECT pg.*, rl.*, (SELECT count(*) FROM org_memberships m WHERE m.org_id = '$BENCH_ORG') AS total FROM (SELECT m.id AS membership_id, m.org_id, m.user_id, m.employee_id, m.department_id, d.name AS department_name, m.employment_start_date, m.employment_status, m.platform_status, m.invitation_status, m.invited_at, m.accepted_at, m.created_at AS membership_created_at, u.email, u.is_active, u.is_superuser, u.created_at AS user_created_at, u.identity_id, COALESCE(i.mfa_enabled, false) AS mfa_enabled, o.name AS org_name, p.id AS profile_id, p.full_name, p.first_name, p.middle_name, p.last_name, p.preferred_name, p.timezone, p.phone_number, p.marital_status, p.country, p.state, p.address_line1, p.address_line2, p.postal_code FROM org_memberships m JOIN users u ON u.id = m.user_id LEFT JOIN identities i ON i.id = u.identity_id LEFT JOIN orgs o ON o.id = m.org_id LEFT JOIN departments d ON d.id = m.department_id AND d.org_id = m.org_id LEFT JOIN org_user_profiles p ON p.org_id = m.org_id AND p.membership_id = m.id WHERE m.org_id = '$BENCH_ORG' ORDER BY m.created_at ASC, m.id ASC LIMIT 20 OFFSET 0) pg LEFT JOIN LATERAL (SELECT array_agg(r.id ORDER BY ur.created_at, r.name, r.id) AS role_ids, array_agg(r.name ORDER BY ur.created_at, r.name, r.id) AS role_names, array_agg(r.description ORDER BY ur.created_at, r.name, r.id) AS role_descriptions, array_agg(r.is_system_role ORDER BY ur.created_at, r.name, r.id) AS role_system FROM user_roles ur JOIN roles r ON r.id = ur.role_id AND r.org_id = ur.org_id WHERE ur.org_id = pg.org_id AND ur.user_id = pg.user_id) rl ON true ORDER BY pg.membership_created_at, pg.membership_id;
SQL
}

# pgbench_tps SQL_FILE -> tx/s of pgbench running SQL_FILE as one transaction, prepared, with
# as many clients as wrk has connections.
pgbench_tps() {
  pgbench -n -M prepared -c "$WRK_CONNECTIONS" -j "$WRK_THREADS" -T "$PGBENCH_SECONDS" -f "$1" "$BENCH_DB_URL" 2>/dev/null |
    awk '/^tps = / {print $3; exit}'
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
  # VmHWM: the most memory the server held at any moment, argon2's 64 MiB per hash included.
  local peak_mb
  peak_mb=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$BG_PID/status")
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

  # The statements /auth/me sends, run by pgbench: the database round-trip limit of this
  # machine for this request.
  local uid pg_tps me_x_legacy me_of_pg
  uid=$(bench_user_id)
  { guard_sql "$uid"; me_sql "$uid"; } >"$TMP/me.sql"
  log "pgbench: the /auth/me statements, $WRK_CONNECTIONS clients, 10 s"
  pg_tps=$(pgbench_tps "$TMP/me.sql")
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
thread per core for 5 s. \`/auth/me\` reference: \`pgbench -n -M prepared -c$WRK_CONNECTIONS -j$WRK_THREADS -T10\` running,
per transaction, the two statements \`/auth/me\` sends (guard, then name, roles and permissions), against the same database.

| figure | \`sole\` | reference | legacy |
|---|---:|---:|---:|
| \`POST /auth/login\` throughput | $(fmt "$lrps" 1) req/s | $(fmt "$ref_rate" 1) verifies/s (one verify: $(fmt "$single_ms" 1) ms) | $LEGACY_LOGIN_RPS req/s |
| \`POST /auth/login\` p50 / p99 | $(fmt "$lp50" 0) / $(fmt "$lp99" 0) ms | | $(fmt_int "$LEGACY_LOGIN_P50_MS") ms (p50) |
| \`/health/live\` p99 during the login load | $(fmt "$hp99" 2) ms | | |
| peak RSS (\`VmHWM\`) after the login runs | $peak_mb MB | | $LEGACY_LOGIN_RSS_MB MB |
| \`GET /auth/me\` throughput | $(fmt_int "$mrps") req/s | $(fmt_int "$pg_tps") tx/s (pgbench) | $LEGACY_ME_RPS req/s |
| \`GET /auth/me\` p50 / p99 | $(fmt "$mp50" 2) / $(fmt "$mp99" 2) ms | | $LEGACY_ME_P50_MS ms (p50) |

| target (DESIGN.md §9, issue 3) | measured | result |
|---|---:|---|
| login within 10% of the argon2 rate | $login_of_ref% | $(verdict ge "$login_of_ref" 90) |
| \`/health/live\` p99 < 5 ms during the login load | $(fmt "$hp99" 2) ms | $(verdict lt "$hp99" 5) |
| RSS under login load < 200 MB | $peak_mb MB | $(verdict lt "$peak_mb" 200) |
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

  # The statements each request sends, run by pgbench: what the database alone can answer.
  local uid ctx_tps users_tps
  uid=$(bench_user_id)
  { guard_sql "$uid"; context_sql "$uid"; } >"$TMP/context.sql"
  { guard_sql "$uid"; users_page_sql "$uid"; } >"$TMP/users.sql"
  log "pgbench: the /self/context statements, then the /org/users statements"
  ctx_tps=$(pgbench_tps "$TMP/context.sql")
  users_tps=$(pgbench_tps "$TMP/users.sql")

  log "pgbench -S on the same database (scale 10)"
  pgbench -i -q -s 10 "$BENCH_DB_URL" >/dev/null 2>&1
  local pg_tps target target_here pg_of_design ctx_of_pg users_of_pg
  pg_tps=$(pgbench -n -S -c "$WRK_CONNECTIONS" -j "$WRK_THREADS" -T 10 "$BENCH_DB_URL" 2>/dev/null |
    awk '/^tps = / {print $3; exit}')
  target=$(awk -v b="$LEGACY_ME_RPS" 'BEGIN {print 20 * b}')
  # The legacy figure comes from a machine whose pgbench -S did DESIGN_PGBENCH_S_TPS; scaled by
  # this machine's pgbench -S, the same target asks the same of the database on either machine.
  target_here=$(awk -v t="$target" -v a="$pg_tps" -v b="$DESIGN_PGBENCH_S_TPS" 'BEGIN {printf "%.0f", t * a / b}')
  pg_of_design=$(awk -v a="$pg_tps" -v b="$DESIGN_PGBENCH_S_TPS" 'BEGIN {printf "%.0f", 100 * a / b}')
  ctx_of_pg=$(awk -v a="$crps" -v b="$ctx_tps" 'BEGIN {printf "%.0f", 100 * a / b}')
  users_of_pg=$(awk -v a="$urps" -v b="$users_tps" 'BEGIN {printf "%.0f", 100 * a / b}')

  cat <<EOF
## \`GET /self/context\` and \`GET /org/users\` on an org with 1,000 members

$(machine_line)

Command: \`$INVOCATION\` (release build). A throwaway database migrated and seeded by \`sole\`,
plus 1,000 active members with profiles and the EMPLOYEE role; the caller is the demo employee
with a direct \`user.view\` grant. \`sole serve\` with Redis and \`DB_POOL_SIZE=16\`. Load:
\`wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION --latency\`, median of $WRK_RUNS runs. References on the same database:
\`pgbench -n -M prepared -c$WRK_CONNECTIONS -j$WRK_THREADS -T10\` running, per transaction, the statements the
endpoint sends (the guard, then its own query; the permission check reads Redis), and
\`pgbench -n -S\` (scale 10). The legacy service answered \`GET /auth/me\` at $LEGACY_ME_RPS req/s
(p50 $LEGACY_ME_P50_MS ms) on this machine kind; every endpoint here pays at least that guard cost.

| figure | \`sole\` | its statements in pgbench | target: > 20× legacy \`/auth/me\` | result | target scaled by \`pgbench -S\` | result |
|---|---:|---:|---:|---|---:|---|
| \`GET /self/context\` | $(fmt_int "$crps") req/s, p50 $(fmt "$cp50" 2) ms, p99 $(fmt "$cp99" 2) ms | $(fmt_int "$ctx_tps") tx/s | $(fmt_int "$target") req/s | $(verdict gt "$crps" "$target") | $(fmt_int "$target_here") req/s | $(verdict gt "$crps" "$target_here") |
| \`GET /org/users?page=1&page_size=20\` | $(fmt_int "$urps") req/s, p50 $(fmt "$up50" 2) ms, p99 $(fmt "$up99" 2) ms | $(fmt_int "$users_tps") tx/s | $(fmt_int "$target") req/s | $(verdict gt "$urps" "$target") | $(fmt_int "$target_here") req/s | $(verdict gt "$urps" "$target_here") |
| \`pgbench -S\` | | $(fmt_int "$pg_tps") tx/s | | | | |

\`/self/context\` reaches $ctx_of_pg% and \`/org/users\` $users_of_pg% of the pgbench rate of their own
statements. This machine's \`pgbench -S\` is $pg_of_design% of the $(fmt_int "$DESIGN_PGBENCH_S_TPS") TPS that DESIGN.md §9 recorded on
the machine the legacy figures come from; the scaled target is the 20× target times that share.
When an endpoint's own statements in pgbench stay below a target, no client of this database
reaches it without caching the response. Runs (req/s): \`/self/context\` $cruns; \`/org/users\` $uruns.
EOF
}
