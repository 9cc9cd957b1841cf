#!/usr/bin/env bash
# Runs a slow step of a make target and says so: a line on stderr before
# it starts, what it is doing, and one when it ends, with how long it took.
#
#   scripts/timed.sh "building ./cmd/dev" go build -o build/dev ./cmd/dev
#
# prints "make: building ./cmd/dev..." then "make: building ./cmd/dev:
# done (1m32s)" (or "failed (...)"), and exits with the command's status.
set -uo pipefail
[ "$#" -ge 2 ] || { echo "usage: scripts/timed.sh WHAT COMMAND [ARG...]" >&2; exit 2; }
what=$1
shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/elapsed.sh
. "$root/scripts/elapsed.sh"
echo "make: ${what}..." >&2
start=$(now_ns)
"$@"
status=$?
if [ "$status" = 0 ]; then
	echo "make: ${what}: done ($(elapsed "$start"))" >&2
else
	echo "make: ${what}: failed ($(elapsed "$start"))" >&2
fi
exit "$status"
