# Sourced by the command-line tests once they have set `melon`: a temporary
# folder $tmp, removed at exit, where the process in $pid (a server or a run
# started in the background) is also killed; checks that are counted; runs
# of melon that keep their output, errors and exit status; servers.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/melon-test-XXXXXX")
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
passed=0
failed=0
check() { # check "description" command...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $what"; fi
}
run() { "$melon" "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
rc() { cat "$tmp/rc"; }
out_has() { grep -q -- "$1" "$tmp/out"; }
err_has() { grep -q -- "$1" "$tmp/err"; }
# serve_start STATE_DIR ARGS...: `melon serve` in the background on a free
# loopback port, its messages appended to $tmp/server.err; sets pid, and
# port (0 when it did not start within 60 s).
serve_start() {
  local dir=$1; shift
  rm -f "$tmp/port"
  "$melon" serve --state-dir "$dir" --listen 127.0.0.1:0 --port-file "$tmp/port" "$@" \
    2>>"$tmp/server.err" &
  pid=$!
  for _ in $(seq 600); do
    [ -s "$tmp/port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  port=$(cat "$tmp/port" 2>/dev/null || echo 0)
}
# The tally; the status is 0 when no check failed.
finish() { echo "${1:+$1: }$passed passed, $failed failed"; [ "$failed" = 0 ]; }
