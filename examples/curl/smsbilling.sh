#!/usr/bin/env bash
# The smsbilling partner API from the shell, with curl.
#
#   export SMSBILLING_API_BASE=https://<api-id>.execute-api.<region>.amazonaws.com/Prod
#   export SMSBILLING_API_KEY=sk_...
#   ./smsbilling.sh send <service_id> <destination> <text>   # send an SMS from your credits
#   ./smsbilling.sh reply <message_id> <text>                # answer an MO (async handlers)
#   ./smsbilling.sh message <message_id>                     # one of your messages and its status
#   ./smsbilling.sh messages [query]                         # list/search, e.g. "msisdn=447700900123"
#   ./smsbilling.sh balance                                  # income and prepaid credits
#
# Prints the JSON answer. Exits 0 on a 2xx, 1 on a refusal (the answer is then a problem document
# with a "code"), 2 on a usage error. Writes send an Idempotency-Key (a fresh one per run; set
# IDEMPOTENCY_KEY to repeat a send safely after a timeout).
set -euo pipefail

: "${SMSBILLING_API_BASE:?set SMSBILLING_API_BASE to the API base URL}"
: "${SMSBILLING_API_KEY:?set SMSBILLING_API_KEY to your API key}"
BASE="${SMSBILLING_API_BASE%/}"

json_string() {  # a shell string as a JSON string (quotes, backslashes and control characters escaped)
  local s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case "$c" in
      '"') out+='\"' ;;
      '\') out+='\\' ;;
      $'\n') out+='\n' ;;
      $'\r') out+='\r' ;;
      $'\t') out+='\t' ;;
      *)
        if [[ "$c" < ' ' ]]; then out+=$(printf '\\u%04x' "'$c"); else out+=$c; fi ;;
    esac
  done
  printf '"%s"' "$out"
}

call() {  # call METHOD PATH [JSON BODY]
  local method=$1 path=$2 body=${3:-} answer status
  local args=(--silent --show-error --max-time 30 -X "$method"
    -H "Authorization: Bearer ${SMSBILLING_API_KEY}" -H "Accept: application/json"
    -w $'\n%{http_code}')
  if [[ -n "$body" ]]; then
    args+=(-H "Content-Type: application/json" -H "Idempotency-Key: ${IDEMPOTENCY_KEY:-$(uuid)}" --data-binary "$body")
  fi
  answer=$(curl "${args[@]}" "${BASE}${path}")
  status=${answer##*$'\n'}
  printf '%s\n' "${answer%$'\n'*}"
  [[ "$status" =~ ^2 ]] || { echo "HTTP $status" >&2; return 1; }
}

uuid() { cat /proc/sys/kernel/random/uuid 2>/dev/null || date +%s%N; }

usage() { sed -n '2,16p' "$0" >&2; exit 2; }

case "${1:-}" in
  send)
    [[ $# -eq 4 ]] || usage
    call POST /v1/sms "{\"service_id\":$(json_string "$2"),\"destination\":$(json_string "$3"),\"text\":$(json_string "$4")}" ;;
  reply)
    [[ $# -eq 3 ]] || usage
    call POST "/v1/messages/$2/reply" "{\"text\":$(json_string "$3")}" ;;
  message)
    [[ $# -eq 2 ]] || usage
    call GET "/v1/messages/$2" ;;
  messages)
    call GET "/v1/messages${2:+?$2}" ;;
  balance)
    call GET /v1/balance ;;
  *) usage ;;
esac
