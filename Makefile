# token-refresher — see README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Functions: every folder under functions/ with a main.go.
FUNCTIONS := $(patsubst functions/%/main.go,%,$(wildcard functions/*/main.go))
BUILD_DIR ?= build
SYNTH_SCALE ?= 10,100,1000,1000/20
GO_BUILD_FLAGS := -tags lambda.norpc -trimpath -ldflags="-s -w"
STATICCHECK_VERSION := v0.8.2

CDK := .tools/cdk/node_modules/.bin/cdk
CDK_ENV := CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
CDK_FLAGS := --no-notices --no-version-reporting

export AWS_EC2_METADATA_DISABLED ?= true

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-16s %s\n", $$1, $$2}'

# Each target installs only the tools it runs (scripts/install-tools.sh):
# deploying needs Go, Node.js and the CDK CLI; make dev and make bench need
# aws-lambda-rie and moto_server; make test needs all of them and
# CloudFormation Guard (the Control Tower checks of the synthesized templates).
.PHONY: tools
tools: ## Install aws-lambda-rie, the CDK CLI and CloudFormation Guard; check moto_server (everything make test needs).
	@scripts/install-tools.sh

.PHONY: dev-tools
dev-tools: ## Install aws-lambda-rie and check moto_server (what make dev and make bench need).
	@scripts/install-tools.sh rie moto

.PHONY: cdk-cli
cdk-cli: ## Install the CDK CLI into .tools/cdk (what the deploy targets need).
	@scripts/install-tools.sh cdk

.PHONY: dev
dev: dev-tools ## Run the whole system locally: moto_server, vendor test servers, every function, sped-up schedules (DEV_ARGS="-speed 600").
	@scripts/timed.sh "building ./cmd/dev (the first build compiles the AWS SDK: a minute or more)" go build -o $(BUILD_DIR)/dev ./cmd/dev && exec $(BUILD_DIR)/dev $(DEV_ARGS)

.PHONY: build
build: ## Build every function as build/<fn>/bootstrap (linux/arm64, provided.al2023).
	@for fn in $(FUNCTIONS); do \
		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(GO_BUILD_FLAGS) -o $(BUILD_DIR)/$$fn/bootstrap ./functions/$$fn || exit 1; \
		echo "built $(BUILD_DIR)/$$fn/bootstrap ($$(stat -c %s $(BUILD_DIR)/$$fn/bootstrap) bytes)"; \
	done

.PHONY: test
test: tools ## Run every test (unit, fuzz seed corpora, integration under aws-lambda-rie and moto_server, CDK assertions and CLI synth).
	go vet ./...
	REQUIRE_CDK_CLI=1 go test -race -count=1 -timeout 40m ./...
	$(MAKE) synth

.PHONY: bench
bench: dev-tools simulate synth-scale ## Measure bootstrap size, cold start, warm split, peak memory and Go benchmarks of every function; writes bench/results.md.
	go run ./cmd/bench $(BENCH_FLAGS)

.PHONY: simulate
simulate: ## Simulate 10, 100 and 1,000 connections of one vendor, today, queued and in lanes (simulated time, about half a minute); writes bench/scale.md.
	go test -count=1 -run '^TestCurve$$' ./internal/scalesim -curve -curve-out $(CURDIR)/bench/scale.md

.PHONY: synth-scale
synth-scale: ## Time the synth of 5 vendors × 10, 100 and 1,000 connections, and 1,000 in 20 lanes (minutes); writes bench/synth.md.
	go test -count=1 -timeout 60m -run '^TestSynthScale$$' ./infra/tokenrefresher -synth-scale=$(SYNTH_SCALE) -synth-scale-out $(CURDIR)/bench/synth.md

.PHONY: lint
lint: ## gofmt, go vet and staticcheck.
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

.PHONY: fuzz
fuzz: ## Fuzz every reply parser and decoder for FUZZTIME each (default 20s).
	@for target in \
		"./shared/vendorhttp FuzzDecodeToken" "./shared/merchenta FuzzParseReply" \
		"./shared/jwtexp FuzzNumeric" "./shared/jwtexp FuzzISO" "./shared/token FuzzParse" \
		"./shared/refresh FuzzParseEvent" "./shared/refresh FuzzParseCredentials" \
		"./shared/admitad FuzzParseReply" "./shared/admitad FuzzParseConnection" "./shared/admitad FuzzVerifyStateAndLink"; do \
		set -- $$target; go test -run '^$$' -fuzz "^$$2$$" -fuzztime $${FUZZTIME:-20s} $$1 || exit 1; \
	done

# Extra CDK CLI arguments, e.g. CDK_ARGS="-c alarmEmail=ops@example.com".
CDK_ARGS ?=

.PHONY: synth
synth: cdk-cli build ## Synthesize the CloudFormation template with the CDK CLI (offline; no AWS credentials needed).
	$(CDK_ENV) $(CDK) synth $(CDK_FLAGS) -q $(CDK_ARGS)

.PHONY: bootstrap
bootstrap: cdk-cli ## Prepare the AWS account and region for CDK deployments (once).
	$(CDK_ENV) $(CDK) bootstrap $(CDK_FLAGS) $(CDK_ARGS)

.PHONY: diff
diff: cdk-cli build ## Compare the stack with what is deployed.
	$(CDK_ENV) $(CDK) diff $(CDK_FLAGS) $(CDK_ARGS)

.PHONY: deploy
deploy: cdk-cli build ## Build the functions and deploy the stack (docs/deploying.md).
	$(CDK_ENV) $(CDK) deploy $(CDK_FLAGS) --require-approval broadening $(CDK_ARGS)

.PHONY: destroy
destroy: cdk-cli build ## Remove the stack (docs/deploying.md: what stays behind).
	$(CDK_ENV) $(CDK) destroy $(CDK_FLAGS) $(CDK_ARGS)

# A target that talks to AWS stops before it installs or builds anything,
# with one line, when no source of AWS credentials is configured: keys or a
# profile in the environment, web identity, a container role, a credentials
# or config file that names credentials, or (AWS_EC2_METADATA_DISABLED=false)
# an instance role. Only the configuration is read; the CDK CLI resolves it.
AWS_TARGETS := bootstrap diff deploy destroy
AWS_CREDENTIAL_KEYS := aws_access_key_id|credential_process|credential_source|role_arn|web_identity_token_file|sso_session|sso_start_url|sso_account_id|login_session
AWS_CREDENTIALS_FOUND = { [ -n "$$AWS_ACCESS_KEY_ID" ] && [ -n "$$AWS_SECRET_ACCESS_KEY" ]; } \
	|| [ -n "$$AWS_PROFILE$$AWS_DEFAULT_PROFILE$$AWS_WEB_IDENTITY_TOKEN_FILE$$AWS_CONTAINER_CREDENTIALS_FULL_URI$$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" ] \
	|| grep -Eqs '^[[:space:]]*($(AWS_CREDENTIAL_KEYS))[[:space:]]*=' "$${AWS_SHARED_CREDENTIALS_FILE:-$$HOME/.aws/credentials}" "$${AWS_CONFIG_FILE:-$$HOME/.aws/config}" \
	|| [ "$(AWS_EC2_METADATA_DISABLED)" = false ]
ifneq ($(filter $(AWS_TARGETS),$(MAKECMDGOALS)),)
ifneq ($(shell $(AWS_CREDENTIALS_FOUND) && echo found),found)
$(error make $(filter $(AWS_TARGETS),$(MAKECMDGOALS)): no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or run aws configure / aws sso login first)
endif
endif

.PHONY: connect-admitad
connect-admitad: ## Print a signed, short-lived link that connects Admitad (ADMITAD_CONNECT_URL = stack output AdmitadAuthorizeUrl).
	@go run ./cmd/tokenctl connect admitad

.PHONY: status
status: ## Show every vendor's token: fingerprint, expiry, staleness.
	@go run ./cmd/tokenctl status

.PHONY: clean
clean: ## Remove build output.
	rm -rf $(BUILD_DIR) cdk.out
