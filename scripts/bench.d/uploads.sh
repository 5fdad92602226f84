# shellcheck shell=bash
# The `uploads` section of scripts/bench (issue 16): peak memory of `sole` while a file at the
# upload size cap goes in through the signed upload URL (the frontend's path) and comes back out
# through the signed download URL, on the local storage backend. Sourced by scripts/bench after
# authenticated.sh, whose database and sign-in helpers it uses.

UPLOAD_SIZE_MB=${UPLOAD_SIZE_MB:-50}

hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# Resets the process's peak RSS to its current RSS (Linux: clear_refs value 5), so VmHWM then
# measures only what follows.
reset_peak() { echo 5 >"/proc/$1/clear_refs"; }

# upload_session BASE TOKEN USER_ID BYTES -> the JSON data of a display-image upload session.
upload_session() {
  curl -sf -H "Authorization: Bearer $2" -H "X-Org-Id: $BENCH_ORG" -H 'Content-Type: application/json' \
    -d "{\"org_id\":\"$BENCH_ORG\",\"kind\":\"display_image_original\",\"owner_refs\":{\"user_id\":\"$3\"},\"filename\":\"big.png\",\"content_type\":\"image/png\",\"size_bytes\":$4}" \
    "$1/assets/upload-sessions"
}

section_uploads() {
  trap 'drop_bench_dbs; cleanup' EXIT
  prepare_db 0
  local bytes=$((UPLOAD_SIZE_MB * 1048576)) file=$TMP/upload.png port base token uid pid
  # A PNG signature, then incompressible bytes up to exactly the cap.
  { printf '\x89PNG\r\n\x1a\n'; head -c $((bytes - 8)) /dev/urandom; } >"$file"
  port=$(free_port)
  BENCH_DATABASE_URL=$BENCH_DB_URL start_sole "$port" TENANCY_MODE=multi DEFAULT_ORG_ID=$BENCH_ORG \
    RATE_LIMIT_PER_MINUTE=1000000000 STORAGE_PROVIDER=local LOCAL_UPLOAD_DIR="$TMP/uploads" \
    MAX_UPLOAD_SIZE_MB="$UPLOAD_SIZE_MB" PUBLIC_BASE_URL="http://127.0.0.1:$port"
  pid=$BG_PID
  wait_200 "$pid" "$port" /api/v1/health/live || { cat "$TMP/sole.log" >&2; die "sole did not start"; }
  base="http://127.0.0.1:$port/api/v1"
  token=$(sign_in "$port")
  uid=$(bench_user_id)

  # One small round trip first, so the measured peaks are the file's, not first-use set-up.
  local small url
  url=$(upload_session "$base" "$token" "$uid" 1024 | json_field upload_url)
  head -c 1024 "$file" | curl -sf -X PUT -H 'Content-Type: image/png' --data-binary @- "$url" >/dev/null ||
    die "the warm-up upload failed"
  small=$(rss_kb "$pid")

  log "PUT of $UPLOAD_SIZE_MB MiB to the signed upload URL"
  local session upload_url asset_id rss_before hwm_put code
  session=$(upload_session "$base" "$token" "$uid" "$bytes")
  upload_url=$(json_field upload_url <<<"$session")
  asset_id=$(json_field asset_id <<<"$session")
  rss_before=$(rss_kb "$pid")
  reset_peak "$pid"
  local t0 t1
  t0=$(now_us)
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: image/png' \
    --data-binary @"$file" "$upload_url")
  t1=$(now_us)
  [[ $code == 200 ]] || die "the $UPLOAD_SIZE_MB MiB upload answered $code"
  hwm_put=$(hwm_kb "$pid")
  local put_ms=$(((t1 - t0) / 1000))

  log "one byte over the cap is refused"
  local over_code
  session=$(upload_session "$base" "$token" "$uid" "$bytes")
  over_code=$({ cat "$file"; printf 'x'; } | curl -s -o /dev/null -w '%{http_code}' -X PUT \
    -H 'Content-Type: image/png' --data-binary @- "$(json_field upload_url <<<"$session")")

  log "GET of the $UPLOAD_SIZE_MB MiB object through its signed download URL"
  local finalize download_url hwm_get got_sha want_sha
  finalize=$(curl -sf -X POST -H "Authorization: Bearer $token" -H "X-Org-Id: $BENCH_ORG" \
    "$base/assets/$asset_id/finalize") || die "finalize failed"
  [[ -n $finalize ]] || die "finalize answered nothing"
  download_url=$(curl -sf -H "Authorization: Bearer $token" -H "X-Org-Id: $BENCH_ORG" \
    "$base/assets/$asset_id/download-url" | json_field download_url)
  reset_peak "$pid"
  t0=$(now_us)
  got_sha=$(curl -sf -H "Authorization: Bearer $token" -H "X-Org-Id: $BENCH_ORG" "$download_url" |
    sha256sum | cut -d' ' -f1)
  t1=$(now_us)
  hwm_get=$(hwm_kb "$pid")
  local get_ms=$(((t1 - t0) / 1000))
  want_sha=$(sha256sum "$file" | cut -d' ' -f1)
  [[ $got_sha == "$want_sha" ]] || die "the downloaded bytes differ from the uploaded ones"
  stop_pid "$pid"

  local size_mb put_growth get_growth
  size_mb=$(kb_to_mb $((bytes / 1024)))
  put_growth=$((hwm_put - rss_before))
  get_growth=$((hwm_get - rss_before))
  cat <<EOF
## Uploads and downloads at the size cap (${UPLOAD_SIZE_MB} MiB), local storage

$(machine_line)

Command: \`$INVOCATION\` (release build). One \`sole\` process on a seeded throwaway database,
\`STORAGE_PROVIDER=local\`, \`MAX_UPLOAD_SIZE_MB=$UPLOAD_SIZE_MB\`. The demo employee opens an asset
upload session and \`curl\` PUTs a file of exactly the cap ($size_mb MB of random bytes behind a PNG
signature) to the signed upload URL without a token, as the frontend does; then the object is
finalized and read back through its signed download URL (bytes compared by SHA-256). Peak RSS
is the process's \`VmHWM\`, reset (\`/proc/PID/clear_refs\` = 5) just before each transfer.

| | figure |
|---|---|
| file size | $size_mb MB |
| RSS before the transfers (after one 1 KiB warm-up upload) | $(kb_to_mb "$rss_before") MB (after warm-up: $(kb_to_mb "$small") MB) |
| peak RSS during the upload | $(kb_to_mb "$hwm_put") MB (+$(kb_to_mb "$put_growth") MB, $(awk -v g="$put_growth" -v f="$((bytes / 1024))" 'BEGIN {printf "%.1f", 100 * g / f}') % of the file) |
| peak RSS during the download | $(kb_to_mb "$hwm_get") MB (+$(kb_to_mb "$get_growth") MB, $(awk -v g="$get_growth" -v f="$((bytes / 1024))" 'BEGIN {printf "%.1f", 100 * g / f}') % of the file) |
| upload / download wall time on loopback | $put_ms ms / $get_ms ms |
| one byte over the cap | HTTP $over_code |

Both directions stream: the process grows by a small fraction of the file, not by the file.
EOF
}
