// Package tokenrefresher is token-refresher as a CDK construct: scheduled
// Lambda refreshers that keep vendor API tokens fresh in Secrets Manager,
// derived from the vendor table in shared/vendors.
//
// [NewStack] makes the stack that token-refresher's own app (infra/)
// deploys; [New] adds the same deployment to a stack of another CDK app.
// Either takes [Props]: the vendors (all of vendors.All(), or some), their
// named connections, the name prefix, the alarm e-mail, the log retention
// and encryption, VPC placement, token replica regions, stack outputs and
// whether to add a dashboard. The functions are prebuilt by `make build`
// into Props.AssetDir, or, with AssetDir empty, built from this module's
// source at synth time (`go build` for linux/arm64, CDK local bundling).
// [TokenRefresher.GrantRead] and [TokenRefresher.GrantReject] grant a
// principal one token, or the reject alias of one refresher.
//
// # Governed accounts
//
// A deployment passes AWS Control Tower's proactive controls (the Guard
// rules of @cdklabs/cdk-validator-cfnguard, checked in the tests) with
// its defaults, except for two it records on the resources as explained
// exceptions (CloudFormation Metadata "guard", [GuardMetadataKey]): the
// connect routes have no authorization type (CT.APIGATEWAY.PR.5) and,
// without Props.Vpc, the functions are in no VPC (CT.LAMBDA.PR.3). With
// Props.ConnectionLanes, the lanes' log groups also record why the
// template-level rule of CT.CLOUDWATCH.PR.3 cannot see their key: its ARN
// comes from the parent stack as a parameter.
//
// # What a deployment holds
//
// Per vendor: a refresher function <prefix>-<vendor> (arm64, 128 MB,
// reserved concurrency 1) with an alias "reject" (vendors.RejectAlias), an
// empty credentials secret, a token secret, an EventBridge Scheduler
// schedule with a dead-letter queue, and alarms on errors, undelivered runs
// and (for expiring tokens) a dead man's switch. Per authorization-code
// vendor (Admitad): a refresh-token secret, a signing-key secret, a
// callback function and an HTTP API. Per named connection (Props.Connections):
// its own credentials, token and (Admitad) refresh-token secrets, a schedule
// whose input names the connection and a dead man's switch, in nested
// stacks sharded by a hash of the name. With Props.ConnectionLanes, per
// vendor with named connections: a nested stack of lane functions
// <prefix>-<vendor>-lane-<i> (reserved concurrency 1 each, with an errors
// alarm) that run the connections, the default one included, on their
// schedules, which are spread over the period; the refresher function
// then hands them every other run and runs none itself. Once: managed policies for apps
// (reader, rejecter) and operators (tokenctl), an encrypted alarm topic
// and, unless Props.Dashboard is false, a dashboard.
//
// # Naming guarantees
//
//   - Physical names come from shared/vendors and never change for a
//     given prefix: secrets <prefix>/<vendor>/credentials, /token,
//     /refresh-token and /signing-key (vendors.SecretName), functions
//     <prefix>-<vendor> and <prefix>-<vendor>-callback
//     (vendors.FunctionName); a named connection's secrets are
//     <prefix>/<vendor>/<connection>/<role>. Apps and tokenctl find them without
//     reading stack outputs. Two deployments in one account need two
//     prefixes.
//   - Every secret is tagged with vendors.SecretTags: token-refresher:role,
//     token-refresher:vendor and (except signing keys)
//     token-refresher:connection.
//   - NewStack keeps the logical ids of the stack that token-refresher has
//     always deployed, so an update replaces nothing.
//
// # IAM guarantees
//
//   - Each function's role reaches only its own vendor's secrets, with the
//     least actions it needs: a refresher reads its credentials and writes
//     its token (Admitad's also swaps its refresh token); no function may
//     read another vendor's credentials. Named connections are granted by
//     name pattern, <prefix>/<vendor>/*/<role>-??????, which matches only
//     that vendor's connection secrets of that role.
//   - A function with named connections gets CONNECTIONS (their names,
//     comma-separated) and NAME_PREFIX; the function refuses an event
//     naming any other connection.
//   - Credentials, refresh-token and signing-key secrets deny
//     secretsmanager:GetSecretValue, in their resource policies, to every
//     principal but the roles of the functions that use them, plus
//     Props.OperatorPrincipalArns (signing keys only) and
//     Props.BreakGlassPrincipalArns; a named connection's secrets also
//     admit the roles of its vendor's lanes, by their IAM path
//     /<prefix>/lanes/<vendor>/<region>/. Nothing else is denied, so
//     CloudFormation updates and write-only tools keep working.
//   - A lane may use its vendor's named connections' secrets as the
//     vendor's function may, and its own log group; only the vendor's
//     function and its schedules' role may invoke it.
//   - Apps get two managed policies: the reader reads token secrets and
//     nothing else; the rejecter may invoke only the refreshers' "reject"
//     aliases, which refuse {"force": true}, so no app can make a refresher
//     call its vendor at will.
//   - The operator policy holds exactly what tokenctl calls: read token
//     secrets (status), describe and write credentials without reading
//     them (set-credentials), invoke the functions (refresh), read signing
//     keys (connect), list secrets (status finds named connections) and
//     write signing keys (rotation).
//   - Refresh-token and signing-key secrets also deny
//     secretsmanager:PutSecretValue, UpdateSecret and
//     UpdateSecretVersionStage to every principal but those named: the
//     Admitad functions (refresh tokens), Props.OperatorPrincipalArns
//     (signing keys), break-glass, and CloudFormation (the deploying role
//     of `cdk bootstrap`, Props.DeployPrincipalArns, or aws:CalledVia).
//   - The template never carries a credentials value: a credentials secret
//     is created empty, so no stack update can overwrite what an operator
//     filled in.
//
// Constructors panic on invalid props, naming what is wrong, as CDK
// constructs do.
package tokenrefresher
