# Sourced by the command-line tests once they have set `melon`: a temporary
# folder $tmp, removed at exit (a test that must also stop processes sets
# its own EXIT trap after sourcing, and removes $tmp there); checks that are
# counted; runs of melon that keep their output, errors and exit status.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/melon-test-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
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
# The tally; the status is 0 when no check failed.
finish() { echo "${1:+$1: }$passed passed, $failed failed"; [ "$failed" = 0 ]; }
