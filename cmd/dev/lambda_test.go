//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/token-refresher/token-refresher/internal/localaws"
	"github.com/token-refresher/token-refresher/shared/admitad"
	"github.com/token-refresher/token-refresher/shared/lambdafn"
	"github.com/token-refresher/token-refresher/shared/reader"
	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
	"github.com/token-refresher/token-refresher/shared/vendors"
	"github.com/token-refresher/token-refresher/shared/vendortest"
)

// withEnv sets env (NAME=value) for the rest of t, for clients that read
// their endpoints from the environment as apps do.
func withEnv(t *testing.T, env []string) {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, v)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_PROFILE", "")
}

// sdkLambda is the SDK's Lambda client configured from the environment
// only (AWS_ENDPOINT_URL_LAMBDA and the rest), as an app's would be.
func sdkConfig(t *testing.T, env []string) aws.Config {
	t.Helper()
	withEnv(t, env)
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func summaryOf(t *testing.T, payload []byte) refresh.Summary {
	t.Helper()
	var sum refresh.Summary
	if err := json.Unmarshal(payload, &sum); err != nil || sum.Action == "" {
		t.Fatalf("reply %s is not a refresh summary", payload)
	}
	return sum
}

// checkLambdaAPI invokes the refreshers through dev's Lambda endpoint the
// ways the README shows: the AWS CLI, the SDK, tokenctl, and the reader's
// Reject; and checks the alias, unknown names, and that concurrent calls
// queue instead of crashing the emulator.
func checkLambdaAPI(t *testing.T, root, front string, env []string, store *secretstore.Store, d *devClient) {
	fyberFn := functionName(vendors.Fyber)
	fyberID := secretName(vendors.Fyber, vendors.RoleToken)
	cfg := sdkConfig(t, env)
	client := lambda.NewFromConfig(cfg)
	ctx := context.Background()

	t.Run("AWS CLI", func(t *testing.T) {
		if _, err := exec.LookPath("aws"); err != nil {
			t.Skip("the AWS CLI is not installed")
		}
		before := waitToken(t, store, vendors.Fyber, time.Minute, func(token.Token) bool { return true })
		out := filepath.Join(t.TempDir(), "out.json")
		args := []string{"lambda", "invoke", "--function-name", fyberFn, "--payload", `{"force":true}`, out}
		if v, _ := exec.Command("aws", "--version").CombinedOutput(); strings.HasPrefix(string(v), "aws-cli/2") {
			args = append(args[:len(args)-1], "--cli-binary-format", "raw-in-base64-out", out)
		}
		cmd := exec.Command("aws", args...)
		cmd.Env = env
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		if !strings.Contains(string(b), `"StatusCode": 200`) || strings.Contains(string(b), "FunctionError") {
			t.Errorf("aws lambda invoke printed:\n%s", b)
		}
		reply, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sum := summaryOf(t, reply)
		if sum.Action != refresh.ActionRefreshed || sum.Fingerprint == before.Fingerprint {
			t.Errorf("forced refresh replied %+v; token was %s", sum, before.Fingerprint)
		}
	})

	t.Run("SDK with AWS_ENDPOINT_URL_LAMBDA", func(t *testing.T) {
		out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fyberFn), Payload: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		if out.FunctionError != nil {
			t.Fatalf("function error: %s", out.Payload)
		}
		if sum := summaryOf(t, out.Payload); sum.Vendor != vendors.Fyber {
			t.Errorf("reply for %q", sum.Vendor)
		}
	})

	t.Run("reject alias refuses force", func(t *testing.T) {
		for _, in := range []*lambda.InvokeInput{
			{FunctionName: aws.String(fyberFn), Qualifier: aws.String(vendors.RejectAlias), Payload: []byte(`{"force":true}`)},
			{FunctionName: aws.String(fyberFn + ":" + vendors.RejectAlias), Payload: []byte(`{"force":true}`)},
		} {
			out, err := client.Invoke(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), refresh.ErrForceRefused.Error()) ||
				!strings.Contains(string(out.Payload), `"errorType":"`+lambdafn.ErrorTypeForceRefused+`"`) {
				t.Errorf("force through the alias: FunctionError %q, payload %s", aws.ToString(out.FunctionError), out.Payload)
			}
		}
		// What apps send through the alias works.
		out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fyberFn), Qualifier: aws.String(vendors.RejectAlias),
			Payload: []byte(`{"rejected_fingerprint":"0000000000000000"}`)})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("rejected_fingerprint through the alias: %v %s", err, out.Payload)
		}
		if sum := summaryOf(t, out.Payload); sum.Action != refresh.ActionSkipped {
			t.Errorf("a stale fingerprint through the alias: %+v", sum)
		}
	})

	t.Run("unknown names", func(t *testing.T) {
		cases := []struct {
			name string
			in   *lambda.InvokeInput
		}{
			{"function", &lambda.InvokeInput{FunctionName: aws.String("token-refresher-nope")}},
			{"the emulator's name", &lambda.InvokeInput{FunctionName: aws.String("function")}},
			{"qualifier", &lambda.InvokeInput{FunctionName: aws.String(fyberFn), Qualifier: aws.String("live")}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := client.Invoke(ctx, tc.in)
				var nf *ltypes.ResourceNotFoundException
				if !errors.As(err, &nf) {
					t.Fatalf("error %v, want ResourceNotFoundException", err)
				}
			})
		}
	})

	t.Run("SDK with a connection's event", func(t *testing.T) {
		fn := functionName(vendors.Merchenta)
		out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"connection":"globex"}`)})
		if err != nil {
			t.Fatal(err)
		}
		if out.FunctionError != nil {
			t.Fatalf("function error: %s", out.Payload)
		}
		if sum := summaryOf(t, out.Payload); sum.Vendor != vendors.Merchenta || sum.Connection != "globex" {
			t.Errorf("reply for %s/%s, want merchenta/globex", sum.Vendor, sum.Connection)
		}
		// A connection the stack did not declare: the function refuses it.
		out, err = client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"connection":"initech"}`)})
		if err != nil {
			t.Fatal(err)
		}
		if out.FunctionError == nil || !strings.Contains(string(out.Payload), `unknown connection \"initech\"`) {
			t.Errorf("an undeclared connection: FunctionError %v, payload %s", aws.ToString(out.FunctionError), out.Payload)
		}
	})

	tokenctl := filepath.Join(t.TempDir(), "tokenctl")
	t.Run("tokenctl refresh", func(t *testing.T) {
		bin := tokenctl
		build := exec.Command("go", "build", "-o", bin, "./cmd/tokenctl")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build tokenctl: %v\n%s", err, out)
		}
		before := waitToken(t, store, vendors.Fyber, time.Minute, func(token.Token) bool { return true })
		cmd := exec.Command(bin, "refresh", vendors.Fyber, "--json")
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("tokenctl refresh fyber: %v\n%s%s", err, out, ee.Stderr)
			}
			t.Fatal(err)
		}
		sum := summaryOf(t, out)
		if sum.Action != refresh.ActionRefreshed || sum.Fingerprint == before.Fingerprint {
			t.Errorf("tokenctl refresh: %+v; token was %s", sum, before.Fingerprint)
		}
	})

	t.Run("tokenctl refresh merchenta/acme", func(t *testing.T) {
		if _, err := os.Stat(tokenctl); err != nil {
			t.Skip("tokenctl was not built")
		}
		acme := waitTokenAt(t, store, vendors.Merchenta, "acme", time.Minute, func(token.Token) bool { return true })
		globex := waitTokenAt(t, store, vendors.Merchenta, "globex", time.Minute, func(token.Token) bool { return true })
		out := runTool(t, env, "", tokenctl, "refresh", vendors.Merchenta+"/acme", "--json")
		var sum refresh.Summary
		if err := json.Unmarshal(out, &sum); err != nil {
			t.Fatalf("tokenctl refresh merchenta/acme printed %s", out)
		}
		if sum.Vendor != vendors.Merchenta || sum.Connection != "acme" || sum.Action != refresh.ActionRefreshed || sum.Fingerprint == acme.Fingerprint {
			t.Errorf("tokenctl refresh merchenta/acme: %+v; token was %s", sum, acme.Fingerprint)
		}
		fresh := waitTokenAt(t, store, vendors.Merchenta, "acme", time.Minute, func(tok token.Token) bool { return tok.Fingerprint == sum.Fingerprint })
		checkTokenFor(t, fresh, "acme")
		// globex's token may have been refreshed by its schedule meanwhile,
		// but only ever with its own.
		if now := waitTokenAt(t, store, vendors.Merchenta, "globex", time.Minute, func(token.Token) bool { return true }); now.Fingerprint != globex.Fingerprint {
			t.Logf("globex refreshed meanwhile: %s -> %s", globex.Fingerprint, now.Fingerprint)
			checkTokenFor(t, now, "globex")
		}
	})

	t.Run("tokenctl connect admitad with the banner's variables", func(t *testing.T) {
		if _, err := os.Stat(tokenctl); err != nil {
			t.Skip("tokenctl was not built")
		}
		// The export line carries ADMITAD_CONNECT_URL: no --url needed.
		out := runTool(t, env, "", tokenctl, "connect", vendors.Admitad, "--json")
		var link struct {
			URL string `json:"url"`
		}
		if err := json.Unmarshal(out, &link); err != nil || !strings.HasPrefix(link.URL, front+admitad.AuthorizePath+"?") || !strings.Contains(link.URL, "sig=") {
			t.Errorf("tokenctl connect admitad printed %s, want a signed link to %s", vendorhttp.RedactURL(string(out)), front+admitad.AuthorizePath)
		}
	})

	t.Run("tokenctl set-credentials without --allow-untagged", func(t *testing.T) {
		if _, err := os.Stat(tokenctl); err != nil {
			t.Skip("tokenctl was not built")
		}
		// dev's secrets carry the stack's tags, so tokenctl writes the
		// credentials secret it names, and refuses another role's secret.
		creds, _ := json.Marshal(vendortest.Credentials(vendors.Fyber))
		out := runTool(t, env, string(creds), tokenctl, "set-credentials", vendors.Fyber, "--json")
		var w struct {
			SecretID string `json:"secret_id"`
			Untagged bool   `json:"untagged"`
		}
		if err := json.Unmarshal(out, &w); err != nil || w.SecretID != secretName(vendors.Fyber, vendors.RoleCredentials) || w.Untagged {
			t.Errorf("tokenctl set-credentials fyber printed %s", out)
		}
		cmd := exec.Command(tokenctl, "set-credentials", vendors.Fyber, "--secret-id", fyberID)
		cmd.Env, cmd.Stdin = env, strings.NewReader(string(creds))
		b, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(b), "refused") {
			t.Errorf("set-credentials into the token secret: %v\n%s", err, b)
		}
		creds, _ = json.Marshal(connectionCredentials(vendors.Merchenta, "acme"))
		runTool(t, env, string(creds), tokenctl, "set-credentials", vendors.Merchenta+"/acme")
		// The credentials written work: acme still refreshes.
		out = runTool(t, env, "", tokenctl, "refresh", vendors.Merchenta+"/acme", "--json")
		if sum := summaryOf(t, out); sum.Connection != "acme" || sum.Action != refresh.ActionRefreshed {
			t.Errorf("refresh after set-credentials: %+v", sum)
		}
	})

	t.Run("reader Reject", func(t *testing.T) {
		r := reader.NewFromConfig(cfg)
		tok, err := r.Get(ctx, fyberID)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := r.Reject(ctx, fyberID, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.Fingerprint == tok.Fingerprint {
			t.Errorf("Reject returned the rejected token %s", tok.Fingerprint)
		}
	})

	t.Run("concurrent calls queue with the schedule", func(t *testing.T) {
		d := d.as(t)
		before := find(d.status(), vendors.Fyber)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				payload := `{}`
				if i%4 == 0 {
					payload = `{"force":true}`
				}
				out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fyberFn), Payload: []byte(payload)})
				switch {
				case err != nil:
					errs <- err
				case out.FunctionError != nil:
					errs <- fmt.Errorf("function error: %s", out.Payload)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		after := find(d.status(), vendors.Fyber)
		if after.Restarts != before.Restarts {
			t.Errorf("concurrent calls restarted the emulator: %s", after.RestartReason)
		}
		if after.Runs < before.Runs+8 {
			t.Errorf("runs %d -> %d: the Lambda API's calls are not counted", before.Runs, after.Runs)
		}
	})
}

// runTool runs bin with args, env and stdin, and returns its stdout; a
// failure shows stderr.
func runTool(t *testing.T, env []string, stdin, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdin = env, strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, out, ee.Stderr)
		}
		t.Fatal(err)
	}
	return out
}

// checkRestarts SIGKILLs fyber's emulator, then its bootstrap, and sees
// dev report each restart with its reason, and the next run succeed.
func checkRestarts(t *testing.T, devPID int, front string, env []string, d *devClient) {
	cfg := sdkConfig(t, env)
	client := lambda.NewFromConfig(cfg)
	fyberFn := functionName(vendors.Fyber)
	invoke := func(t *testing.T) {
		t.Helper()
		out, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(fyberFn), Payload: []byte(`{"force":true}`)})
		if err != nil {
			t.Fatal(err)
		}
		if out.FunctionError != nil {
			t.Fatalf("the run after the restart failed: %s", out.Payload)
		}
	}
	// findFyber returns the pid of fyber's emulator, or of the bootstrap
	// that emulator runs.
	findFyber := func(t *testing.T, bootstrap bool) int {
		t.Helper()
		emulator := 0
		var all []string
		for _, p := range descendantsOf(devPID) {
			all = append(all, fmt.Sprintf("%d %s", p.pid, p.cmdline))
			if strings.Contains(p.cmdline, "aws-lambda-rie") && strings.Contains(p.cmdline, "/fyber/bootstrap") {
				emulator = p.pid
			}
		}
		if emulator == 0 {
			t.Fatalf("no fyber emulator below dev:\n%s", strings.Join(all, "\n"))
		}
		if !bootstrap {
			return emulator
		}
		pid, err := localaws.BootstrapPID(emulator)
		if err != nil {
			t.Fatalf("%v:\n%s", err, strings.Join(all, "\n"))
		}
		return pid
	}
	cases := []struct {
		name      string
		bootstrap bool
		reason    string
	}{
		{"emulator SIGKILL", false, "emulator (pid"},
		{"bootstrap SIGKILL", true, "bootstrap (pid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := d.as(t)
			invoke(t) // a bootstrap runs
			before := find(d.status(), vendors.Fyber)
			pid := findFyber(t, tc.bootstrap)
			exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
			t.Logf("killing pid %d (%s)", pid, exe)
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			// dev restarts the emulator; or, when the kill met a run in
			// flight, the emulator fails that run (Runtime.ExitError) and
			// starts a new bootstrap itself.
			// Both counts only grow, so nothing can undo what is waited
			// for; starting a new emulator takes long on a busy machine.
			st := d.waitStatus(2*time.Minute, "fyber restarted", func(st status) bool {
				v := find(st, vendors.Fyber)
				return v.Restarts > before.Restarts || (tc.bootstrap && v.Failures > before.Failures)
			})
			if v := find(st, vendors.Fyber); v.Restarts > before.Restarts {
				if !strings.Contains(v.RestartReason, tc.reason) || len(v.RestartOutput) == 0 {
					t.Errorf("restart reason %q, output %q; want a reason with %q and the last lines", v.RestartReason, v.RestartOutput, tc.reason)
				}
			} else {
				t.Logf("the kill met a run in flight: %s", v.Failure)
			}
			invoke(t)
		})
	}
}
