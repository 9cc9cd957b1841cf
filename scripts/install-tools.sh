#!/usr/bin/env bash
# Installs the tools token-refresher's make targets need, and checks the one
# it cannot install. Each target asks only for what it uses:
#
#   scripts/install-tools.sh cdk          deploy targets (synth, deploy, diff, destroy, bootstrap)
#   scripts/install-tools.sh rie moto     make dev and make bench
#   scripts/install-tools.sh              everything (make test)
#   scripts/install-tools.sh cfnguard     only AWS CloudFormation Guard
#
#   rie   aws-lambda-rie: go install, into $(go env GOPATH)/bin
#   cdk   the CDK CLI: npm, into .tools/cdk (a dot folder: a node_modules in
#         the module root would break `go test ./...`)
#   cfnguard  AWS CloudFormation Guard 3.1.1 with the rules of AWS Control
#         Tower's proactive controls: the npm package
#         @cdklabs/cdk-validator-cfnguard, into .tools/cfnguard (its peer
#         dependency aws-cdk-lib is not installed: only the binary and the
#         rules are used, by the Guard tests)
#   moto  moto_server: checked only; install with pip
#
# Idempotent: a tool already at the pinned version is left alone, so a
# second run takes well under a second. Prints one line per tool; exits 1 if
# something is missing or fails, and 2 on an unknown tool name.
set -euo pipefail

RIE_MODULE="github.com/aws/aws-lambda-runtime-interface-emulator"
RIE_VERSION="v0.0.0-20261030222936-bef5c4ba774d"
CDK_VERSION="2.1148.1"
CFNGUARD_PACKAGE="@cdklabs/cdk-validator-cfnguard"
CFNGUARD_VERSION="0.0.62" # keep in step with infra/cfnguard.Version

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/elapsed.sh
. "$root/scripts/elapsed.sh"
status=0

want_rie=0 want_cdk=0 want_cfnguard=0 want_moto=0
[ "$#" -gt 0 ] || set -- rie cdk cfnguard moto
for tool in "$@"; do
	case "$tool" in
	rie) want_rie=1 ;;
	cdk) want_cdk=1 ;;
	cfnguard) want_cfnguard=1 ;;
	moto) want_moto=1 ;;
	*)
		echo "install-tools: unknown tool \"$tool\" (known: rie, cdk, cfnguard, moto)" >&2
		exit 2
		;;
	esac
done

install_rie() {
	local gobin rie
	gobin="$(go env GOBIN)"
	[ -n "$gobin" ] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
	rie="$gobin/aws-lambda-rie"
	if [ -x "$rie" ] && go version -m "$rie" 2>/dev/null | grep -q "mod[[:space:]]*${RIE_MODULE}[[:space:]]*${RIE_VERSION}"; then
		echo "aws-lambda-rie: already installed at ${RIE_VERSION} ($rie)"
	else
		# The first install downloads and compiles the emulator: minutes on
		# a busy machine. Say so before, and how long it took after.
		echo "aws-lambda-rie: installing ${RIE_VERSION} with go install (downloads and compiles it: a few minutes the first time)..."
		local start
		start=$(now_ns)
		if go install "${RIE_MODULE}/cmd/aws-lambda-rie@${RIE_VERSION}"; then
			echo "aws-lambda-rie: installed ${RIE_VERSION} ($rie) in $(elapsed "$start")"
		else
			echo "aws-lambda-rie: go install ${RIE_MODULE}/cmd/aws-lambda-rie@${RIE_VERSION} failed after $(elapsed "$start")" >&2
			status=1
		fi
	fi
}

# install_npm NAME DIR PACKAGE VERSION [BIN] [NPM FLAGS...] installs
# PACKAGE@VERSION into .tools/DIR with npm, unless that version (and BIN,
# when given, under node_modules/.bin) is there already.
install_npm() {
	local name="$1" dir="$root/.tools/$2" rel=".tools/$2" package="$3" version="$4" bin="$5" installed=""
	shift 5
	local pkg="$dir/node_modules/$package/package.json" where="$rel"
	[ -z "$bin" ] || where="$rel/node_modules/.bin/$bin"
	if [ -f "$pkg" ] && command -v node >/dev/null 2>&1; then
		installed="$(node -p 'require(process.argv[1]).version' "$pkg" 2>/dev/null || true)"
	fi
	if [ "$installed" = "$version" ] && { [ -z "$bin" ] || [ -x "$dir/node_modules/.bin/$bin" ]; }; then
		echo "$name: already installed at ${version} ($where)"
	elif ! command -v npm >/dev/null 2>&1; then
		echo "$name: npm not found on PATH; install Node.js and npm, then run this again" >&2
		status=1
	else
		echo "$name: installing ${version} into $rel with npm..."
		local start
		start=$(now_ns)
		if npm install --prefix "$dir" "${package}@${version}" "$@" --no-audit --no-fund --loglevel=error >/dev/null; then
			echo "$name: installed ${version} ($where) in $(elapsed "$start")"
		else
			echo "$name: npm install --prefix $rel ${package}@${version} failed after $(elapsed "$start")" >&2
			status=1
		fi
	fi
}

install_cdk() { install_npm cdk cdk aws-cdk "$CDK_VERSION" cdk; }

# Without its peer dependency aws-cdk-lib (the Go tests need only the
# binary and the rules): 36 MB instead of 223 MB.
install_cfnguard() { install_npm cfnguard cfnguard "$CFNGUARD_PACKAGE" "$CFNGUARD_VERSION" "" --legacy-peer-deps; }

check_moto() {
	# Run it: a pyenv shim is on PATH even when the active Python lacks moto.
	if command -v moto_server >/dev/null 2>&1 && moto_server -h >/dev/null 2>&1; then
		echo "moto_server: found ($(command -v moto_server))"
	else
		echo 'moto_server: not on PATH; install it with: pip install "moto[server]"' >&2
		status=1
	fi
}

[ "$want_rie" = 0 ] || install_rie
[ "$want_cdk" = 0 ] || install_cdk
[ "$want_cfnguard" = 0 ] || install_cfnguard
[ "$want_moto" = 0 ] || check_moto
exit "$status"
