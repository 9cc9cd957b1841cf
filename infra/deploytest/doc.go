// Package deploytest checks the repository's Makefile as a person who
// deploys meets it: the deploy targets (synth, deploy, diff, destroy,
// bootstrap) need only Go, Node.js and the CDK CLI, never the test tools
// (moto_server, aws-lambda-rie); make dev installs only what it runs; and a
// target that talks to AWS stops before it installs or builds anything when
// no AWS credentials are configured, with one line that says what to set.
//
// The package has no code of its own; its tests run make and the install
// script with a PATH from which the test tools are removed.
package deploytest
