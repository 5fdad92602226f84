# shellcheck shell=bash
# The `stock` section of scripts/bench (issue 15): GET /me/dashboard/summary and
# GET /org/users/{id}/stock/summary on an org with 1,000 members holding 3 grants each, next to
# pgbench running each endpoint's own statements. Sourced by scripts/bench after
# authenticated.sh, whose database and sign-in helpers it uses.

# The legacy service answers a comparable authenticated read at about this rate on this
# machine kind (issue 15); the target is more than 30× that.
LEGACY_STOCK_RPS=100
STOCK_TARGET_X=30

# stock_grants_sql: 3 SCHEDULED grants of 4 yearly events for every active member (the bench
# employee included), so every summary has vested and unvested shares; stock views for the
# bench employee (none of them is a sensitive permission, so it still signs in without MFA).
stock_grants_sql() {
  cat <<SQL
UPDATE user_permissions SET permissions = permissions || '["stock.vesting.view", "stock.eligibility.view"]'::jsonb
WHERE org_id = '$BENCH_ORG' AND user_id = (SELECT id FROM users WHERE email = '$BENCH_EMAIL');
CREATE TEMP TABLE bench_grants AS
  SELECT m.id AS membership_id, gen_random_uuid() AS grant_id, k
  FROM org_memberships m CROSS JOIN generate_series(1, 3) AS k
  WHERE m.org_id = '$BENCH_ORG' AND m.employment_status = 'ACTIVE' AND m.platform_status = 'ACTIVE';
INSERT INTO employee_stock_grants (id, org_id, org_membership_id, grant_date, total_shares,
                                   exercise_price, status, vesting_strategy, notes)
  SELECT grant_id, '$BENCH_ORG', membership_id, date '2023-01-01' + 200 * k, 4000, 1.25 * k,
         'ACTIVE', 'SCHEDULED', 'bench grant ' || k
  FROM bench_grants;
INSERT INTO vesting_events (id, org_id, grant_id, vest_date, shares)
  SELECT gen_random_uuid(), '$BENCH_ORG', grant_id, date '2023-01-01' + 200 * k + 365 * e, 1000
  FROM bench_grants CROSS JOIN generate_series(1, 4) AS e;
ANALYZE;
SQL
}

grant_ids_of() { # MEMBERSHIP_ID -> its ACTIVE grants' ids as a PostgreSQL array literal
  psql -X -At "$BENCH_DB_URL" -c "SELECT array_agg(id) FROM employee_stock_grants WHERE org_membership_id = '$1' AND status = 'ACTIVE'"
}

# The statements of one member summary (services::stock::summary::member_summary_of), after the
# guard; the permission checks read Redis.
stock_summary_sql() { # MEMBERSHIP_ID
  local ids
  ids=$(grant_ids_of "$1")
  cat <<SQL
SELECT id, employment_status, platform_status, employment_start_date FROM org_memberships WHERE org_id = '$BENCH_ORG' AND id = '$1';
SELECT min_vested_shares_to_exercise, enforce_min_vested_to_exercise, min_service_duration_years, enforce_service_duration_rule FROM org_settings WHERE org_id = '$BENCH_ORG';
SELECT id, org_id, org_membership_id, grant_date, total_shares, exercise_price, status, vesting_strategy, notes FROM employee_stock_grants WHERE org_id = '$BENCH_ORG' AND status = 'ACTIVE' AND ('$1'::uuid IS NULL OR org_membership_id = '$1') ORDER BY grant_date DESC, id;
SELECT grant_id, id, vest_date, shares FROM vesting_events WHERE grant_id = ANY('$ids'::uuid[]) ORDER BY vest_date, id;
SELECT id, loan_application_id, grant_id, shares_reserved, status, created_at FROM stock_grant_reservations WHERE org_id = '$BENCH_ORG' AND org_membership_id = '$1' AND status = ANY('{SUBMITTED,IN_REVIEW,ACTIVE}') ORDER BY created_at DESC, id;
SQL
}

# The statements of the landing page (services::stock::self_dashboard), after the guard.
stock_landing_sql() { # USER_ID MEMBERSHIP_ID
  local ids
  ids=$(grant_ids_of "$2")
  cat <<SQL
SELECT count(*) FROM announcements a WHERE a.org_id = '$BENCH_ORG' AND (NOT true OR a.status = 'PUBLISHED') AND ('$1'::uuid IS NULL OR NOT EXISTS (SELECT 1 FROM announcement_reads r WHERE r.announcement_id = a.id AND r.user_id = '$1' AND r.org_id = '$BENCH_ORG'));
SELECT count(*) FROM loan_workflow_stages WHERE org_id = '$BENCH_ORG' AND assigned_to_user_id = '$1' AND status <> 'COMPLETED';
SELECT loan_application_id, stage_type FROM loan_workflow_stages WHERE org_id = '$BENCH_ORG' AND assigned_to_user_id = '$1' AND status <> 'COMPLETED' ORDER BY created_at DESC, id LIMIT 5;
SELECT min_vested_shares_to_exercise, enforce_min_vested_to_exercise, min_service_duration_years, enforce_service_duration_rule FROM org_settings WHERE org_id = '$BENCH_ORG';
SELECT id, employment_status, platform_status, employment_start_date FROM org_memberships WHERE org_id = '$BENCH_ORG' AND user_id = '$1';
SELECT phone_number, timezone, marital_status, country, state, address_line1, postal_code FROM org_user_profiles WHERE org_id = '$BENCH_ORG' AND membership_id = '$2';
SELECT id, org_id, org_membership_id, grant_date, total_shares, exercise_price, status, vesting_strategy, notes FROM employee_stock_grants WHERE org_id = '$BENCH_ORG' AND status = 'ACTIVE' AND ('$2'::uuid IS NULL OR org_membership_id = '$2') ORDER BY grant_date DESC, id;
SELECT grant_id, id, vest_date, shares FROM vesting_events WHERE grant_id = ANY('$ids'::uuid[]) ORDER BY vest_date, id;
SELECT id, loan_application_id, grant_id, shares_reserved, status, created_at FROM stock_grant_reservations WHERE org_id = '$BENCH_ORG' AND org_membership_id = '$2' AND status = ANY('{SUBMITTED,IN_REVIEW,ACTIVE}') ORDER BY created_at DESC, id;
SELECT count(*), count(*) FILTER (WHERE status = 'ACTIVE'), count(*) FILTER (WHERE status = 'COMPLETED'), count(*) FILTER (WHERE status IN ('SUBMITTED', 'IN_REVIEW')) FROM loan_applications WHERE org_id = '$BENCH_ORG' AND org_membership_id = '$2';
SELECT r.payment_date, r.amount FROM loan_repayments r JOIN loan_applications a ON a.id = r.loan_application_id WHERE a.org_id = '$BENCH_ORG' AND a.org_membership_id = '$2' ORDER BY r.payment_date DESC, r.created_at DESC, r.id LIMIT 10;
SELECT id, status, loan_principal, estimated_monthly_payment, total_payable_amount, nominal_annual_rate_percent, term_months, repayment_method, activation_date, as_of_date, election_83b_due_date FROM loan_applications WHERE org_id = '$BENCH_ORG' AND org_membership_id = '$2' AND status = 'ACTIVE' ORDER BY activation_date DESC NULLS LAST, created_at DESC, id LIMIT 1;
SQL
}

section_stock() {
  trap 'drop_bench_dbs; cleanup' EXIT
  prepare_db 1000
  log "3 grants × 4 vesting events for every active member"
  stock_grants_sql | psql -X -q -v ON_ERROR_STOP=1 "$BENCH_DB_URL" >&2
  local port base token h1 h2 grants members
  grants=$(psql -X -At "$BENCH_DB_URL" -c "SELECT count(*) FROM employee_stock_grants WHERE org_id = '$BENCH_ORG'")
  psql -X -At "$BENCH_DB_URL" -c "SELECT id FROM org_memberships WHERE org_id = '$BENCH_ORG' AND employee_id LIKE 'BENCH-%' ORDER BY employee_id" \
    >"$TMP/members.txt"
  members=$(wc -l <"$TMP/members.txt")
  [[ $members -eq 1000 ]] || die "expected 1000 bench members, found $members"
  port=$(free_port)
  start_sole_on "$BENCH_DB_URL" "$port"
  wait_200 "$BG_PID" "$port" /api/v1/health/live || { cat "$TMP/sole.log" >&2; die "sole did not start"; }
  base="http://127.0.0.1:$port/api/v1"
  token=$(sign_in "$port")
  h1="Authorization: Bearer $token"
  h2="X-Org-Id: $BENCH_ORG"

  log "/me/dashboard/summary: warm-up, then $WRK_RUNS × wrk"
  wrk_with "$base/me/dashboard/summary" "$WRK_WARMUP" -H "$h1" -H "$h2"
  median_runs wrk_with "$base/me/dashboard/summary" "$WRK_DURATION" -H "$h1" -H "$h2"
  local drps=$RPS dp50=$P50 dp99=$P99 druns=$RUNS_RPS

  # One member after the other, round robin per wrk thread: the first pass computes each
  # summary, the following ones read the 300 s cache, as repeated page loads do.
  cat >"$TMP/summary.lua" <<LUA
local ids = {}
for line in io.lines("$TMP/members.txt") do ids[#ids + 1] = line end
local i = 0
request = function()
  i = i % #ids + 1
  return wrk.format("GET", "/api/v1/org/users/" .. ids[i] .. "/stock/summary")
end
LUA
  log "/org/users/{id}/stock/summary over the 1,000 members: warm-up, then $WRK_RUNS × wrk"
  wrk_with "$base/org/users" "$WRK_WARMUP" -H "$h1" -H "$h2" -s "$TMP/summary.lua"
  median_runs wrk_with "$base/org/users" "$WRK_DURATION" -H "$h1" -H "$h2" -s "$TMP/summary.lua"
  local srps=$RPS sp50=$P50 sp99=$P99 sruns=$RUNS_RPS
  stop_pid "$BG_PID"

  local uid mid member dash_tps sum_tps target
  uid=$(bench_user_id)
  mid=$(psql -X -At "$BENCH_DB_URL" -c "SELECT id FROM org_memberships WHERE org_id = '$BENCH_ORG' AND user_id = '$uid'")
  member=$(sed -n 500p "$TMP/members.txt")
  { guard_sql "$uid"; stock_landing_sql "$uid" "$mid"; } >"$TMP/landing.sql"
  { guard_sql "$uid"; stock_summary_sql "$member"; } >"$TMP/summary.sql"
  log "pgbench: the /me/dashboard/summary statements, then the member summary statements"
  dash_tps=$(pgbench_tps "$TMP/landing.sql")
  sum_tps=$(pgbench_tps "$TMP/summary.sql")
  [[ -n $dash_tps && -n $sum_tps ]] || die "pgbench failed on the stock statements"
  target=$((STOCK_TARGET_X * LEGACY_STOCK_RPS))

  cat <<EOF
## \`GET /me/dashboard/summary\` and \`GET /org/users/{id}/stock/summary\` with 1,000 members × 3 grants

$(machine_line)

Command: \`$INVOCATION\` (release build). A throwaway database migrated and seeded by \`sole\`,
plus 1,000 active members with profiles and the EMPLOYEE role; every active member holds 3
SCHEDULED grants of 4 yearly vesting events ($grants grants in all with the seed's demo grants). The caller is the demo
employee (its own landing page; a direct grant of \`stock.vesting.view\` and
\`stock.eligibility.view\` for the member summaries). \`sole serve\` with Redis and
\`DB_POOL_SIZE=16\`. Load: \`wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION --latency\`, median of $WRK_RUNS runs; the member
summaries go round the 1,000 members (the first pass computes each one, later passes read the
300 s cache, as repeated page loads do). Reference: \`pgbench -n -M prepared -c$WRK_CONNECTIONS -j$WRK_THREADS\` running,
per transaction, the statements the endpoint sends when it computes (the guard, then its own
queries; the permission checks read Redis), for one member, against the same database.

| figure | \`sole\` | its statements in pgbench | target: > ${STOCK_TARGET_X}× legacy (~$LEGACY_STOCK_RPS req/s) | result |
|---|---:|---:|---:|---|
| \`GET /me/dashboard/summary\` | $(fmt_int "$drps") req/s, p50 $(fmt "$dp50" 2) ms, p99 $(fmt "$dp99" 2) ms | $(fmt_int "$dash_tps") tx/s | $(fmt_int "$target") req/s | $(verdict gt "$drps" "$target") |
| \`GET /org/users/{id}/stock/summary\` | $(fmt_int "$srps") req/s, p50 $(fmt "$sp50" 2) ms, p99 $(fmt "$sp99" 2) ms | $(fmt_int "$sum_tps") tx/s | $(fmt_int "$target") req/s | $(verdict gt "$srps" "$target") |

Runs (req/s): \`/me/dashboard/summary\` $druns; member summary $sruns.
EOF
}
