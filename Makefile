# token-refresher — see README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Functions: every folder under functions/ with a main.go.
FUNCTIONS := $(patsubst functions/%/main.go,%,$(wildcard functions/*/main.go))
BUILD_DIR ?= build
GO_BUILD_FLAGS := -tags lambda.norpc -trimpath -ldflags="-s -w"
STATICCHECK_VERSION := v0.8.2

CDK := .tools/cdk/node_modules/.bin/cdk
CDK_ENV := CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
CDK_FLAGS := --no-notices --no-version-reporting

export AWS_EC2_METADATA_DISABLED ?= true

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: tools
tools: ## Install aws-lambda-rie and the CDK CLI; check moto_server.
	@scripts/install-tools.sh

.PHONY: dev
dev: tools ## Run the whole system locally: moto_server, vendor test servers, every function, sped-up schedules (DEV_ARGS="-speed 600").
	@go build -o $(BUILD_DIR)/dev ./cmd/dev && exec $(BUILD_DIR)/dev $(DEV_ARGS)

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
bench: tools ## Measure bootstrap size, cold start, warm split, peak memory and Go benchmarks of every function; writes bench/results.md.
	go run ./cmd/bench $(BENCH_FLAGS)

.PHONY: lint
lint: ## gofmt, go vet and staticcheck.
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

.PHONY: fuzz
fuzz: ## Fuzz every reply parser and decoder for FUZZTIME each (default 20s).
	@for target in \
		"./shared/hasoffers FuzzParseReply" "./shared/fyber FuzzParseReply" "./shared/merchenta FuzzParseReply" \
		"./shared/jwtexp FuzzNumeric" "./shared/jwtexp FuzzISO" "./shared/token FuzzParse" \
		"./shared/refresh FuzzParseEvent" "./shared/refresh FuzzParseCredentials" \
		"./shared/admitad FuzzParseReply" "./shared/admitad FuzzParseConnection" "./shared/admitad FuzzVerifyStateAndLink"; do \
		set -- $$target; go test -run '^$$' -fuzz "^$$2$$" -fuzztime $${FUZZTIME:-20s} $$1 || exit 1; \
	done

# Extra CDK CLI arguments, e.g. CDK_ARGS="-c alarmEmail=ops@example.com".
CDK_ARGS ?=

.PHONY: synth
synth: tools build ## Synthesize the CloudFormation template with the CDK CLI (offline).
	$(CDK_ENV) $(CDK) synth $(CDK_FLAGS) -q $(CDK_ARGS)

.PHONY: bootstrap
bootstrap: tools ## Prepare the AWS account and region for CDK deployments (once).
	$(CDK_ENV) $(CDK) bootstrap $(CDK_FLAGS) $(CDK_ARGS)

.PHONY: diff
diff: tools build ## Compare the stack with what is deployed.
	$(CDK_ENV) $(CDK) diff $(CDK_FLAGS) $(CDK_ARGS)

.PHONY: deploy
deploy: tools build ## Build the functions and deploy the stack.
	$(CDK_ENV) $(CDK) deploy $(CDK_FLAGS) --require-approval broadening $(CDK_ARGS)

.PHONY: destroy
destroy: tools build ## Remove the stack (see README: what stays behind).
	$(CDK_ENV) $(CDK) destroy $(CDK_FLAGS) $(CDK_ARGS)

.PHONY: connect-admitad
connect-admitad: ## Print a signed, short-lived link that connects Admitad (ADMITAD_CONNECT_URL = stack output AdmitadAuthorizeUrl).
	@go run ./cmd/tokenctl connect admitad

.PHONY: status
status: ## Show every vendor's token: fingerprint, expiry, staleness.
	@go run ./cmd/tokenctl status

.PHONY: clean
clean: ## Remove build output.
	rm -rf $(BUILD_DIR) cdk.out
