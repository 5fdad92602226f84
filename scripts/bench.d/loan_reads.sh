# shellcheck shell=bash
# The `loan_reads` section of scripts/bench (issue 17): the borrower's loan list
# (GET /me/loan-applications, the MyLoansPage read) and the org loan dashboard
# (GET /org/dashboard/loan-summary) on an org with 1,000 loans, next to pgbench running each
# endpoint's own statements, and next to the legacy FastAPI service run in the same script on
# the same database with the same signing keys. Sourced by scripts/bench after
# authenticated.sh, whose database and sign-in helpers it uses.
#
# The legacy service is the public repository Stock-Loan/sole-backend at LEGACY_COMMIT,
# unpacked under target/legacy-backend, with its dependencies in target/legacy-venv
# (LEGACY_SRC and LEGACY_VENV override them). Prepare it once:
#
#   git --git-dir=<mirror of Stock-Loan/sole-backend> archive d36770b | tar -x -C target/legacy-backend
#   python3 -m venv target/legacy-venv
#   target/legacy-venv/bin/pip install './target/legacy-backend[prod]' greenlet
#
# (greenlet: SQLAlchemy 2.1, which its `sqlalchemy>=2.0,<3.0` resolves to today, no longer
# installs it, and its asyncio engine cannot import without it.)
#
# When it is missing or does not answer, the section still prints the sole and pgbench figures
# and says why the legacy column is empty.

LEGACY_COMMIT=d36770b
LEGACY_SRC=${LEGACY_SRC:-$ROOT/target/legacy-backend}
LEGACY_VENV=${LEGACY_VENV:-$ROOT/target/legacy-venv}
LEGACY_WORKERS=2
# The legacy configuration (config.prod.yaml): 5 pooled connections per worker, no overflow.
LEGACY_DB_POOL_SIZE=5
LOAN_READS_TARGET_X=30
# 1,000 loans in the org, LOAN_READS_MINE of them the caller's; the list reads one page.
LOAN_READS_TOTAL=1000
LOAN_READS_MINE=30
LOAN_READS_PAGE=10

# loan_reads_sql: LOAN_READS_TOTAL loans, one per bench member and LOAN_READS_MINE on the bench
# employee, in the states a live org holds: per 20 loans, 12 ACTIVE, 2 SUBMITTED, 2 IN_REVIEW,
# 1 REJECTED, 1 COMPLETED, 1 CANCELLED, 1 DRAFT. Stages as the workflow leaves them, and
# monthly repayments on ACTIVE and COMPLETED loans (up to 12 each) since activation. The demo
# employee gets `loan.dashboard.view` directly (not a sensitive permission: no MFA at sign-in).
loan_reads_sql() {
  local others=$((LOAN_READS_TOTAL - LOAN_READS_MINE))
  cat <<SQL
UPDATE user_permissions SET permissions = permissions || '["loan.dashboard.view"]'::jsonb
WHERE org_id = '$BENCH_ORG' AND user_id = (SELECT id FROM users WHERE email = '$BENCH_EMAIL');
CREATE TEMP TABLE bench_loans AS
  WITH owners AS (
    SELECT id AS membership_id, row_number() OVER (ORDER BY employee_id) AS k
    FROM org_memberships WHERE org_id = '$BENCH_ORG' AND employee_id LIKE 'BENCH-%'
  ), picked AS (
    SELECT membership_id, k FROM owners WHERE k <= $others
    UNION ALL
    SELECT m.id, $others + g FROM org_memberships m JOIN users u ON u.id = m.user_id
      CROSS JOIN generate_series(1, $LOAN_READS_MINE) AS g
    WHERE m.org_id = '$BENCH_ORG' AND u.email = '$BENCH_EMAIL'
  )
  SELECT gen_random_uuid() AS id, membership_id, k,
         (ARRAY['ACTIVE','ACTIVE','ACTIVE','ACTIVE','ACTIVE','ACTIVE','ACTIVE','ACTIVE','ACTIVE',
                'ACTIVE','ACTIVE','ACTIVE','SUBMITTED','SUBMITTED','IN_REVIEW','IN_REVIEW',
                'REJECTED','COMPLETED','CANCELLED','DRAFT'])[k % 20 + 1] AS status,
         1000 + (k % 7) * 250 AS shares,
         (k % 5 + 1) * 12 AS term,
         CASE WHEN k % 3 = 0 THEN 'VARIABLE' ELSE 'FIXED' END AS interest_type,
         CASE WHEN k % 4 = 0 THEN 'BALLOON' ELSE 'PRINCIPAL_AND_INTEREST' END AS method,
         CASE WHEN k % 3 = 0 THEN 4.935 ELSE 6.5 END AS rate,
         now() - make_interval(days => ((k * 37) % 420)::int, secs => k::float8) AS created
  FROM picked;
ALTER TABLE bench_loans ADD COLUMN principal numeric, ADD COLUMN monthly numeric,
  ADD COLUMN activated timestamptz;
UPDATE bench_loans SET principal = shares * 1.25,
  activated = CASE WHEN status IN ('ACTIVE', 'COMPLETED') THEN least(created + interval '10 days', now()) END;
UPDATE bench_loans SET monthly = CASE WHEN method = 'BALLOON' THEN round(principal * rate / 1200, 2)
  ELSE round(principal * (rate / 1200) / (1 - power(1 + rate / 1200, -term)), 2) END;
INSERT INTO loan_applications (id, org_id, org_membership_id, status, decision_reason, version,
    as_of_date, selection_mode, selection_value_snapshot, shares_to_exercise,
    total_exercisable_shares_snapshot, purchase_price, down_payment_amount, loan_principal,
    policy_version_snapshot, interest_type, repayment_method, term_months,
    nominal_annual_rate_percent, estimated_monthly_payment, total_payable_amount,
    total_interest_amount, quote_inputs_snapshot, quote_option_snapshot, allocation_strategy,
    allocation_snapshot, org_settings_snapshot, eligibility_result_snapshot, activation_date,
    election_83b_due_date, created_at, updated_at)
  SELECT id, '$BENCH_ORG', membership_id, status,
         CASE WHEN status = 'REJECTED' THEN 'bench: not eligible' END, 3, created::date, 'SHARES',
         shares, shares, 4000, principal, 0, principal, 1, interest_type, method, term, rate,
         monthly,
         CASE WHEN method = 'BALLOON' THEN principal + monthly * term ELSE monthly * term END,
         CASE WHEN method = 'BALLOON' THEN monthly * term ELSE monthly * term - principal END,
         '{}', '{}', 'OLDEST_VESTED_FIRST', '[]', '{}', '{}', activated,
         (activated + interval '30 days')::date, created, created
  FROM bench_loans;
INSERT INTO loan_workflow_stages (id, org_id, loan_application_id, stage_type, status, completed_at,
                                  created_at, updated_at)
  SELECT gen_random_uuid(), '$BENCH_ORG', l.id, s.stage_type,
         CASE WHEN l.status IN ('ACTIVE', 'COMPLETED') AND (s.n <= 3 OR l.status = 'COMPLETED') THEN 'COMPLETED'
              WHEN l.status = 'ACTIVE' AND s.n = 5 AND l.k % 2 = 0 THEN 'COMPLETED'
              WHEN l.status = 'IN_REVIEW' AND s.n = 1 THEN 'COMPLETED'
              WHEN l.status = 'IN_REVIEW' AND s.n = 2 THEN 'IN_PROGRESS'
              WHEN l.status = 'REJECTED' AND s.n = 1 THEN 'COMPLETED'
              ELSE 'PENDING' END,
         NULL, l.created + interval '1 hour' + CASE WHEN s.n > 3 THEN interval '9 days' ELSE interval '0' END,
         l.created + interval '1 hour'
  FROM bench_loans l
  JOIN (VALUES (1, 'HR_REVIEW'), (2, 'FINANCE_PROCESSING'), (3, 'LEGAL_EXECUTION'),
               (4, 'LEGAL_POST_ISSUANCE'), (5, 'BORROWER_83B_ELECTION')) AS s (n, stage_type)
    ON (l.status IN ('SUBMITTED', 'IN_REVIEW', 'REJECTED') AND s.n <= 3)
    OR l.status IN ('ACTIVE', 'COMPLETED');
UPDATE loan_workflow_stages SET completed_at = updated_at
  WHERE org_id = '$BENCH_ORG' AND status = 'COMPLETED';
INSERT INTO loan_repayments (id, org_id, loan_application_id, amount, principal_amount,
                             interest_amount, payment_date, created_at)
  SELECT gen_random_uuid(), '$BENCH_ORG', l.id, l.monthly,
         greatest(l.monthly - round(l.principal * l.rate / 1200, 2), 0),
         least(round(l.principal * l.rate / 1200, 2), l.monthly),
         (l.activated + make_interval(months => p))::date, l.activated + make_interval(months => p)
  FROM bench_loans l
  CROSS JOIN LATERAL generate_series(1, least(12, (extract(epoch FROM now() - l.activated) / 2629800)::int)) AS p
  WHERE l.status IN ('ACTIVE', 'COMPLETED');
ANALYZE;
SQL
}

# The one statement of GET /me/loan-applications?limit=N&offset=0 after the guard (the
# permission check and the caller's membership are answered in process):
# services::loans::applications::list_own — page, window total and stages together.
loan_list_sql() { # USER_ID MEMBERSHIP_ID
  local cols
  cols="id, org_id, org_membership_id, status, decision_reason, version, create_idempotency_key, submit_idempotency_key, as_of_date, selection_mode, selection_value_snapshot, shares_to_exercise, total_exercisable_shares_snapshot, purchase_price, down_payment_amount, loan_principal, policy_version_snapshot, interest_type, repayment_method, term_months, nominal_annual_rate_percent, estimated_monthly_payment, total_payable_amount, total_interest_amount, quote_inputs_snapshot, quote_option_snapshot, allocation_strategy, allocation_snapshot, org_settings_snapshot, eligibility_result_snapshot, activation_date, election_83b_due_date, marital_status_snapshot, spouse_first_name, spouse_middle_name, spouse_last_name, spouse_email, spouse_phone, spouse_address, created_at, updated_at"
  local where="WHERE org_id = '$BENCH_ORG' AND org_membership_id = '$2' AND (cardinality('{}'::text[]) = 0 OR status = ANY('{}'::text[])) AND (NULL::timestamptz IS NULL OR created_at >= NULL::timestamptz) AND (NULL::timestamptz IS NULL OR created_at <= NULL::timestamptz)"
  cat <<SQL
SELECT $cols, count(*) OVER () AS total, st.stage_types, st.stage_statuses, st.stage_created_at FROM loan_applications l CROSS JOIN LATERAL (SELECT coalesce(array_agg(s.stage_type::text ORDER BY s.created_at, s.id), '{}') AS stage_types, coalesce(array_agg(s.status::text ORDER BY s.created_at, s.id), '{}') AS stage_statuses, coalesce(array_agg(s.created_at ORDER BY s.created_at, s.id), '{}') AS stage_created_at FROM loan_workflow_stages s WHERE s.org_id = l.org_id AND s.loan_application_id = l.id) st $where ORDER BY created_at DESC, id LIMIT $LOAN_READS_PAGE OFFSET 0;
SQL
}

# The one statement of GET /org/dashboard/loan-summary (services::loans::dashboard::SUMMARY),
# for today's 30-day window.
loan_dashboard_sql() {
  local sql
  sql=$(awk '/^const SUMMARY: &str = r#"$/ {on = 1; next} /^"#;$/ {on = 0} on' \
    "$ROOT/src/services/loans/dashboard.rs")
  [[ -n $sql ]] || die "cannot find the SUMMARY statement in src/services/loans/dashboard.rs"
  # The same window as domain::loans::dashboard::window(today), in UTC.
  local org="'$BENCH_ORG'" end="(current_date + time '23:59:59.999999') AT TIME ZONE 'UTC'"
  local start="(current_date + time '23:59:59.999999' - interval '30 days') AT TIME ZONE 'UTC'"
  sql=${sql//\$1/"$org"}
  sql=${sql//\$2/"$start"}
  sql=${sql//\$3/"$end"}
  # pgbench reads one statement per line.
  printf '%s;\n' "$(tr '\n' ' ' <<<"$sql")"
}

# Why the legacy service cannot run here, or nothing when it can be started.
legacy_missing() {
  [[ -f $LEGACY_SRC/app/main.py ]] || { echo "no legacy source at ${LEGACY_SRC#"$ROOT"/}"; return; }
  [[ -x $LEGACY_VENV/bin/gunicorn ]] || { echo "no gunicorn in ${LEGACY_VENV#"$ROOT"/}"; return; }
  "$LEGACY_VENV/bin/python" -c 'import greenlet' 2>/dev/null ||
    { echo "no greenlet in ${LEGACY_VENV#"$ROOT"/} (SQLAlchemy's asyncio engine needs it)"; return; }
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "no Redis on 127.0.0.1:6379 (its rate limiter needs one)"; return; }
}

# start_legacy_on DB_URL PORT: the legacy app as its Dockerfile runs it (gunicorn, uvicorn
# workers), against the bench database and with sole's signing keys, so a token sole mints is
# one it accepts. CONFIG_FILE=/dev/null keeps its config.prod.yaml (GCS storage, 100 req/min)
# out; the rate limit is lifted, the PBGC scrape (an outbound fetch) off, and the access log off
# (it would only slow the legacy side down). Sets BG_PID.
start_legacy_on() {
  local url=$1 port=$2
  bench_keys
  start_bg "$TMP/legacy.log" env -i PATH="$LEGACY_VENV/bin:$PATH" HOME="$TMP" \
    DATABASE_URL="$url" DB_SSL=false DB_POOL_SIZE=$LEGACY_DB_POOL_SIZE DB_MAX_OVERFLOW=0 \
    REDIS_URL=redis://127.0.0.1:6379/0 REDIS_KEY_PREFIX="benchlegacy$$" \
    ENVIRONMENT=development LOG_LEVEL=WARNING CONFIG_FILE=/dev/null \
    TENANCY_MODE=multi DEFAULT_ORG_ID=$BENCH_ORG DEFAULT_ORG_NAME="Bench Org" DEFAULT_ORG_SLUG=$BENCH_ORG \
    JWT_PRIVATE_KEY_PATH="$TMP/jwt_private.pem" JWT_PUBLIC_KEY_PATH="$TMP/jwt_public.pem" \
    SECRET_KEY=bench-secret-key-0123456789abcdef0123456789 FERNET_KDF_SALT=bench-fernet-salt-0001 \
    SEED_ADMIN_EMAIL=admin@example.com SEED_ADMIN_PASSWORD="$BENCH_PASSWORD" \
    RATE_LIMIT_PER_MINUTE=1000000000 PBGC_RATE_SCRAPE_ENABLED=false ENABLE_HSTS=false \
    SESSION_TIMEOUT_MINUTES=600 PYTHONDONTWRITEBYTECODE=1 \
    "$LEGACY_VENV/bin/gunicorn" --chdir "$LEGACY_SRC" app.main:app -k uvicorn.workers.UvicornWorker \
    --bind "127.0.0.1:$port" --workers "$LEGACY_WORKERS" --timeout 300 --keep-alive 5 \
    --log-level warning
}

# loan_reads_round KIND BASE: one wrk run of each endpoint on KIND's server, appended to
# LR_RUNS[KIND-list] and LR_RUNS[KIND-dash] as "req/s p50_ms p99_ms" lines.
declare -A LR_RUNS=()
loan_reads_round() {
  local kind=$1 base=$2
  wrk_with "$base/me/loan-applications?limit=$LOAN_READS_PAGE&offset=0" "$WRK_DURATION" "${LR_WRK_ARGS[@]}"
  LR_RUNS[$kind-list]+="$WRK_RESULT"$'\n'
  log "$kind list: $WRK_RESULT (req/s p50_ms p99_ms)"
  wrk_with "$base/org/dashboard/loan-summary" "$WRK_DURATION" "${LR_WRK_ARGS[@]}"
  LR_RUNS[$kind-dash]+="$WRK_RESULT"$'\n'
  log "$kind dashboard: $WRK_RESULT (req/s p50_ms p99_ms)"
}

lr_median() { # KEY FIELD(1..3)
  awk -v f="$2" 'NF {print $f}' <<<"${LR_RUNS[$1]}" | median
}
lr_runs() { # KEY -> "r1 / r2 / ..."
  awk 'NF {printf "%s%s", sep, int($1 + 0.5); sep = " / "}' <<<"${LR_RUNS[$1]}"
}

# Both endpoints answer 200 with the same total on both servers, or the comparison is void.
lr_check() { # KIND BASE
  local out
  out=$(curl -sf -H "$LR_H1" -H "$LR_H2" "$2/me/loan-applications?limit=$LOAN_READS_PAGE&offset=0") ||
    return 1
  python3 -c 'import json, sys; d = json.load(sys.stdin)["data"]; assert d["total"] == int(sys.argv[1]) and len(d["items"]) == int(sys.argv[2]), d["total"]' \
    "$LOAN_READS_MINE" "$LOAN_READS_PAGE" <<<"$out" || return 1
  curl -sf -H "$LR_H1" -H "$LR_H2" "$2/org/dashboard/loan-summary" >"$TMP/$1-dashboard.json" || return 1
}

section_loan_reads() {
  trap 'drop_bench_dbs; cleanup' EXIT
  prepare_db $((LOAN_READS_TOTAL - LOAN_READS_MINE))
  log "$LOAN_READS_TOTAL loans ($LOAN_READS_MINE on the bench employee) with stages and repayments"
  loan_reads_sql | psql -X -q -v ON_ERROR_STOP=1 "$BENCH_DB_URL" >&2
  local counts n_loans n_active n_stages n_repayments
  counts=$(psql -X -At -F ' ' "$BENCH_DB_URL" -c "SELECT (SELECT count(*) FROM loan_applications), (SELECT count(*) FROM loan_applications WHERE status = 'ACTIVE'), (SELECT count(*) FROM loan_workflow_stages), (SELECT count(*) FROM loan_repayments)")
  read -r n_loans n_active n_stages n_repayments <<<"$counts"
  [[ $n_loans -eq $LOAN_READS_TOTAL ]] || die "expected $LOAN_READS_TOTAL loans, found $n_loans"

  local sport lport sbase lbase spid lpid="" legacy_why
  sport=$(free_port)
  start_sole_on "$BENCH_DB_URL" "$sport"
  spid=$BG_PID
  wait_200 "$spid" "$sport" /api/v1/health/live || { cat "$TMP/sole.log" >&2; die "sole did not start"; }
  sbase="http://127.0.0.1:$sport/api/v1"
  LR_H1="Authorization: Bearer $(sign_in "$sport")"
  LR_H2="X-Org-Id: $BENCH_ORG"
  # wrk gives up on a request after 2 s by default and leaves it out of the latencies; the
  # legacy service answers slower than that under this load, so both get 10 s.
  LR_WRK_ARGS=(--timeout 10s -H "$LR_H1" -H "$LR_H2")
  lr_check sole "$sbase" || die "sole does not answer the loan reads as expected"

  legacy_why=$(legacy_missing)
  if [[ -z $legacy_why ]]; then
    lport=$(free_port)
    start_legacy_on "$BENCH_DB_URL" "$lport"
    lpid=$BG_PID
    lbase="http://127.0.0.1:$lport/api/v1"
    # Python imports take seconds: a longer wait than for sole.
    if ! READY_TIMEOUT_S=60 wait_200 "$lpid" "$lport" /api/v1/health/live; then
      legacy_why="it did not answer /health/live within 60 s (log: $(tail -c 300 "$TMP/legacy.log" | tr '\n' ' '))"
    elif ! lr_check legacy "$lbase"; then
      legacy_why="it did not accept the token sole minted or answered differently ($(curl -s -H "$LR_H1" -H "$LR_H2" "$lbase/me/loan-applications?limit=1" | head -c 300))"
    fi
    if [[ -n $legacy_why ]]; then stop_pid "$lpid"; lpid=""; fi
  fi
  [[ -z $legacy_why ]] || log "legacy not measured: $legacy_why"
  if [[ -z $legacy_why ]]; then
    # Both read the same rows: a dashboard that differs would make the comparison moot.
    log "dashboard bodies, sole vs legacy: $(python3 -c 'import json, sys
a, b = (json.load(open(f))["data"] for f in sys.argv[1:])
print("identical" if a == b else "differ in " + ", ".join(k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)))' \
      "$TMP/sole-dashboard.json" "$TMP/legacy-dashboard.json")"
  fi

  log "warm-up ($WRK_WARMUP per endpoint and server), then $WRK_RUNS rounds alternating sole and legacy"
  local path
  for path in "/me/loan-applications?limit=$LOAN_READS_PAGE&offset=0" /org/dashboard/loan-summary; do
    wrk_with "$sbase$path" "$WRK_WARMUP" "${LR_WRK_ARGS[@]}"
    [[ -z $lpid ]] || wrk_with "$lbase$path" "$WRK_WARMUP" "${LR_WRK_ARGS[@]}"
  done
  local i
  for ((i = 0; i < WRK_RUNS; i++)); do
    loan_reads_round sole "$sbase"
    [[ -z $lpid ]] || loan_reads_round legacy "$lbase"
  done
  [[ -z $lpid ]] || stop_pid "$lpid"
  stop_pid "$spid"

  local uid mid list_tps dash_tps
  uid=$(bench_user_id)
  mid=$(psql -X -At "$BENCH_DB_URL" -c "SELECT id FROM org_memberships WHERE org_id = '$BENCH_ORG' AND user_id = '$uid'")
  loan_list_sql "$uid" "$mid" >"$TMP/loan-list.sql"
  loan_dashboard_sql >"$TMP/loan-dashboard.sql"
  log "pgbench: the loan list statements, then the dashboard statement"
  list_tps=$(pgbench_tps "$TMP/loan-list.sql") || true
  dash_tps=$(pgbench_tps "$TMP/loan-dashboard.sql") || true
  if [[ -z $list_tps || -z $dash_tps ]]; then
    local f
    for f in loan-list loan-dashboard; do
      pgbench -n -M prepared -t 1 -f "$TMP/$f.sql" "$BENCH_DB_URL" >/dev/null 2>"$TMP/$f.err" ||
        log "pgbench on $f.sql: $(head -c 600 "$TMP/$f.err")"
    done
    die "pgbench failed on the loan statements"
  fi

  local lrps lp50 lp99 drps dp50 dp99 list_of_pg dash_of_pg
  lrps=$(lr_median sole-list 1) lp50=$(lr_median sole-list 2) lp99=$(lr_median sole-list 3)
  drps=$(lr_median sole-dash 1) dp50=$(lr_median sole-dash 2) dp99=$(lr_median sole-dash 3)
  list_of_pg=$(awk -v a="$lrps" -v b="$list_tps" 'BEGIN {printf "%.0f", 100 * a / b}')
  dash_of_pg=$(awk -v a="$drps" -v b="$dash_tps" 'BEGIN {printf "%.0f", 100 * a / b}')

  local legacy_list legacy_dash x_list x_dash verdict_list verdict_dash runs_legacy=""
  if [[ -z $legacy_why ]]; then
    local glrps gdrps
    glrps=$(lr_median legacy-list 1) gdrps=$(lr_median legacy-dash 1)
    legacy_list="$(fmt_int "$glrps") req/s, p50 $(fmt "$(lr_median legacy-list 2)" 1) ms, p99 $(fmt "$(lr_median legacy-list 3)" 1) ms"
    legacy_dash="$(fmt_int "$gdrps") req/s, p50 $(fmt "$(lr_median legacy-dash 2)" 1) ms, p99 $(fmt "$(lr_median legacy-dash 3)" 1) ms"
    x_list=$(awk -v a="$lrps" -v b="$glrps" 'BEGIN {printf "%.1f×", a / b}')
    x_dash=$(awk -v a="$drps" -v b="$gdrps" 'BEGIN {printf "%.1f×", a / b}')
    verdict_list=$(verdict gt "${x_list%×}" "$LOAN_READS_TARGET_X")
    verdict_dash=$(verdict gt "${x_dash%×}" "$LOAN_READS_TARGET_X")
    runs_legacy="; legacy list $(lr_runs legacy-list), legacy dashboard $(lr_runs legacy-dash)"
  else
    legacy_list="not measured" legacy_dash="not measured" x_list="–" x_dash="–"
    verdict_list="not measured" verdict_dash="not measured"
  fi

  cat <<EOF
## \`GET /me/loan-applications\` and \`GET /org/dashboard/loan-summary\` with 1,000 loans, beside the legacy service

$(machine_line)

Command: \`$INVOCATION\` (release build). A throwaway database migrated and seeded by \`sole\`,
plus $((LOAN_READS_TOTAL - LOAN_READS_MINE)) active members with profiles and the EMPLOYEE role, and $(fmt_int "$n_loans") loans: one per member and
$LOAN_READS_MINE on the demo employee, per 20 loans 12 ACTIVE, 2 SUBMITTED, 2 IN_REVIEW, 1 REJECTED, 1 COMPLETED,
1 CANCELLED, 1 DRAFT ($n_active ACTIVE; $n_stages workflow stages as the workflow leaves them; $n_repayments monthly
repayments on the ACTIVE and COMPLETED loans). The caller is the demo employee, with a direct
grant of \`loan.dashboard.view\` (not sensitive, so no MFA at sign-in). The list is the
MyLoansPage read, \`?limit=$LOAN_READS_PAGE&offset=0\` of the caller's $LOAN_READS_MINE loans.

Both servers run at once on the same database: \`sole serve\` with Redis and \`DB_POOL_SIZE=16\`;
the legacy service is \`Stock-Loan/sole-backend\` at \`$LEGACY_COMMIT\` under gunicorn with $LEGACY_WORKERS uvicorn
workers (its Dockerfile's command, access log off), $LEGACY_DB_POOL_SIZE pooled connections per worker as in its
\`config.prod.yaml\`, Redis, the rate limit lifted, and sole's signing keys: the same token
goes to both. Load: \`wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION --latency --timeout 10s\`, $WRK_WARMUP warm-up each, then $WRK_RUNS rounds alternating
\`sole\` and legacy, medians. Reference: \`pgbench -n -M prepared -c$WRK_CONNECTIONS -j$WRK_THREADS -T$PGBENCH_SECONDS\` running, per
transaction, the statements the endpoint sends after the guard (warm, the guard and the permission
check are answered in process): for the list its one statement (page, window total and the
page's stages); for the dashboard its one statement.

| endpoint | \`sole\` | its statements in pgbench | legacy, same run | \`sole\` ÷ legacy | target > ${LOAN_READS_TARGET_X}× |
|---|---:|---:|---:|---:|---|
| \`GET /me/loan-applications?limit=$LOAN_READS_PAGE\` | $(fmt_int "$lrps") req/s, p50 $(fmt "$lp50" 2) ms, p99 $(fmt "$lp99" 2) ms | $(fmt_int "$list_tps") tx/s | $legacy_list | $x_list | $verdict_list |
| \`GET /org/dashboard/loan-summary\` | $(fmt_int "$drps") req/s, p50 $(fmt "$dp50" 2) ms, p99 $(fmt "$dp99" 2) ms | $(fmt_int "$dash_tps") tx/s | $legacy_dash | $x_dash | $verdict_dash |

\`sole\` reaches $list_of_pg% (list) and $dash_of_pg% (dashboard) of the pgbench rate of its own statements.
Runs (req/s): list $(lr_runs sole-list), dashboard $(lr_runs sole-dash)$runs_legacy.
EOF
  if [[ -n $legacy_why ]]; then
    printf '\nThe legacy service was not measured: %s.\n' "$legacy_why"
  fi
}
