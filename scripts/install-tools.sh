#!/usr/bin/env bash
# Installs the tools the tests, `make dev` and the CDK deploy need, and checks
# the one it cannot install. Idempotent: a tool already at the pinned version
# is left alone, so a second run takes well under a second.
#
#   aws-lambda-rie  go install, into $(go env GOPATH)/bin
#   cdk             npm, into .tools/cdk (a dot folder: a node_modules in the
#                   module root would break `go test ./...`)
#   moto_server     checked only; install with pip
#
# Prints one line per tool; exits 1 if something is missing or fails.
set -euo pipefail

RIE_MODULE="github.com/aws/aws-lambda-runtime-interface-emulator"
RIE_VERSION="v0.0.0-20261030222936-bef5c4ba774d"
CDK_VERSION="2.1148.1"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
status=0

# aws-lambda-rie ------------------------------------------------------------
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
rie="$gobin/aws-lambda-rie"
if [ -x "$rie" ] && go version -m "$rie" 2>/dev/null | grep -q "mod[[:space:]]*${RIE_MODULE}[[:space:]]*${RIE_VERSION}"; then
	echo "aws-lambda-rie: already installed at ${RIE_VERSION} ($rie)"
elif go install "${RIE_MODULE}/cmd/aws-lambda-rie@${RIE_VERSION}"; then
	echo "aws-lambda-rie: installed ${RIE_VERSION} ($rie)"
else
	echo "aws-lambda-rie: go install ${RIE_MODULE}/cmd/aws-lambda-rie@${RIE_VERSION} failed" >&2
	status=1
fi

# CDK CLI -------------------------------------------------------------------
cdk_dir="$root/.tools/cdk"
cdk_pkg="$cdk_dir/node_modules/aws-cdk/package.json"
installed_cdk=""
if [ -f "$cdk_pkg" ]; then
	installed_cdk="$(node -p 'require(process.argv[1]).version' "$cdk_pkg" 2>/dev/null || true)"
fi
if [ "$installed_cdk" = "$CDK_VERSION" ] && [ -x "$cdk_dir/node_modules/.bin/cdk" ]; then
	echo "cdk: already installed at ${CDK_VERSION} (.tools/cdk/node_modules/.bin/cdk)"
elif ! command -v npm >/dev/null 2>&1; then
	echo "cdk: npm not found on PATH; install Node.js and npm, then run this again" >&2
	status=1
elif npm install --prefix "$cdk_dir" "aws-cdk@${CDK_VERSION}" --no-audit --no-fund --loglevel=error >/dev/null; then
	echo "cdk: installed ${CDK_VERSION} (.tools/cdk/node_modules/.bin/cdk)"
else
	echo "cdk: npm install --prefix .tools/cdk aws-cdk@${CDK_VERSION} failed" >&2
	status=1
fi

# moto_server ---------------------------------------------------------------
# Run it: a pyenv shim is on PATH even when the active Python lacks moto.
if command -v moto_server >/dev/null 2>&1 && moto_server -h >/dev/null 2>&1; then
	echo "moto_server: found ($(command -v moto_server))"
else
	echo 'moto_server: not on PATH; install it with: pip install "moto[server]"' >&2
	status=1
fi

exit "$status"
