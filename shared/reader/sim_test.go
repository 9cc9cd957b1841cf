package reader

// The simulation: a day of one-hour tokens kept fresh by the real refresh
// core on the deployed schedule, read by many app instances, each either
// through this package or through a model of aws-secretsmanager-caching-go.
// Everything runs on a fake clock in one goroutine, so a day takes well
// under a second and every run with the same seed gives the same figures.
//
// The model of aws-secretsmanager-caching-go (github.com/aws/
// aws-secretsmanager-caching-go, package secretcache) follows its source:
//
//   - cacheConfig.go: DefaultCacheItemTTL is one hour.
//   - cacheItem.go: a secret's item is refreshed synchronously on access
//     once nextRefreshTime <= now (and on first access, refreshNeeded);
//     executeRefresh calls DescribeSecret and sets nextRefreshTime to now
//     plus rand.Int63n(maxTTL/2) + maxTTL/2, a TTL drawn uniformly from
//     [30 min, 60 min); getVersionId picks the version labelled AWSCURRENT
//     in that DescribeSecret reply.
//   - cacheVersion.go: each version's value is fetched once with
//     GetSecretValue(SecretId, VersionId) and then kept: a version object
//     only refreshes after an error.
//
// So the value served is the one that was AWSCURRENT at the last
// DescribeSecret, for up to an hour, whatever the token's expires_at.

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/token-refresher/token-refresher/shared/refresh"
	"github.com/token-refresher/token-refresher/shared/secretstore"
	"github.com/token-refresher/token-refresher/shared/token"
	"github.com/token-refresher/token-refresher/shared/vendors"
)

// simClock is the fake clock every party of the simulation reads.
type simClock struct{ t time.Time }

func (c *simClock) now() time.Time { return c.t }

// simConfig describes one simulated day.
type simConfig struct {
	spec      vendors.Spec
	instances int
	// every is the mean time between two token uses of one instance; the
	// actual gaps are uniform in [every/2, 3*every/2).
	every    time.Duration
	duration time.Duration
	seed     uint64
	// model picks the client: "ours" (this package with opts) or "aws"
	// (the aws-secretsmanager-caching-go model with its default TTL).
	model string
	opts  []Option
}

// simResult are the figures of a simulated day.
type simResult struct {
	uses          int // tokens handed to the app
	expiredServed int // of which already past expires_at
	errors        int // Get errors
	refreshes     int // new tokens the refresher stored
	// API calls made by the app instances (the refresher's own reads are
	// not counted).
	getSecretValue int
	describeSecret int
}

func (r simResult) perRefreshPerInstance(calls, instances int) float64 {
	if r.refreshes == 0 || instances == 0 {
		return 0
	}
	return float64(calls) / float64(r.refreshes) / float64(instances)
}

// tokenSource is what an app instance reads tokens through.
type tokenSource func(ctx context.Context) (Token, error)

type simEvent struct {
	at       time.Time
	instance int // -1: the refresher's scheduled run
	seq      int
}

type eventQueue []simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

const (
	simTokenSecret = "sim/token"
	simCredsSecret = "sim/credentials"
)

// simulate runs one day and returns its figures.
func simulate(t testing.TB, cfg simConfig) simResult {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := &simClock{t: start}
	rng := mrand.New(mrand.NewPCG(cfg.seed, 0x5eed))
	sm := newMemSecrets()
	creds := `{"client_id":"sim-client","client_secret":"sim-secret"}`
	sm.create(simCredsSecret, creds)
	sm.create(simTokenSecret, "") // created without a value, like the stack's

	var res simResult
	ref := &refresh.Refresher{
		Spec: cfg.spec,
		Vendor: refresh.VendorFunc(func(ctx context.Context, req *refresh.Request) (*refresh.Grant, error) {
			return &refresh.Grant{AccessToken: "sim-" + randomHex(16), TokenType: "bearer", ExpiresIn: cfg.spec.Lifetime, Sent: clock.now()}, nil
		}),
		Store:        &secretstore.Store{API: sm},
		FunctionName: "sim-refresher",
		Now:          clock.now,
	}
	target := refresh.Target{CredentialsSecretID: simCredsSecret, TokenSecretID: simTokenSecret}

	sources := make([]tokenSource, cfg.instances)
	for i := range sources {
		switch cfg.model {
		case "ours":
			api := &countingSecrets{api: sm, gets: &res.getSecretValue}
			r := New(api, append([]Option{WithClock(clock.now)}, cfg.opts...)...)
			sources[i] = func(ctx context.Context) (Token, error) { return r.Get(ctx, simTokenSecret) }
		case "aws":
			m := &awsCacheModel{api: sm, secretID: simTokenSecret, maxTTL: time.Hour, rng: rng, now: clock.now, res: &res}
			// The app parses each value once; parsing is not what is compared.
			parsed := map[string]Token{}
			sources[i] = func(context.Context) (Token, error) {
				v := m.getSecretString()
				if tok, ok := parsed[v]; ok {
					return tok, nil
				}
				tok, err := token.Parse(v)
				if err == nil {
					parsed[v] = tok
				}
				return tok, err
			}
		default:
			t.Fatalf("simulate: unknown model %q", cfg.model)
		}
	}

	q := &eventQueue{}
	seq := 0
	push := func(at time.Time, inst int) {
		seq++
		heap.Push(q, simEvent{at: at, instance: inst, seq: seq})
	}
	// The schedule fires at start, start+Every, ...; the apps start at
	// random moments of the first hour, after the first token exists.
	push(start, -1)
	for i := range cfg.instances {
		push(start.Add(time.Minute+time.Duration(rng.Int64N(int64(time.Hour)))), i)
	}
	end := start.Add(cfg.duration)
	for q.Len() > 0 {
		ev := heap.Pop(q).(simEvent)
		if ev.at.After(end) {
			break
		}
		clock.t = ev.at
		if ev.instance < 0 {
			sum, err := ref.Run(ctx, target, refresh.Event{})
			if err != nil {
				t.Fatalf("simulate: refresher at %s: %v", clock.t.Format(time.TimeOnly), err)
			}
			if sum.Action == refresh.ActionRefreshed {
				res.refreshes++
			}
			push(ev.at.Add(cfg.spec.Every), -1)
			continue
		}
		tok, err := sources[ev.instance](ctx)
		switch {
		case err != nil:
			res.errors++
		default:
			res.uses++
			if !tok.ExpiresAt.IsZero() && !clock.t.Before(tok.ExpiresAt) {
				res.expiredServed++
			}
		}
		gap := cfg.every/2 + time.Duration(rng.Int64N(int64(cfg.every)))
		push(ev.at.Add(gap), ev.instance)
	}
	return res
}

// awsCacheModel is one process's aws-secretsmanager-caching-go Cache
// holding one secret (see the file comment for what it follows).
type awsCacheModel struct {
	api      *memSecrets
	secretID string
	maxTTL   time.Duration
	rng      *mrand.Rand
	now      func() time.Time
	res      *simResult

	loaded      bool
	nextRefresh time.Time
	current     string            // version id labelled AWSCURRENT at the last DescribeSecret
	versions    map[string]string // version id -> value, fetched once
}

func (m *awsCacheModel) getSecretString() string {
	now := m.now()
	if !m.loaded || !now.Before(m.nextRefresh) {
		m.res.describeSecret++
		m.current = m.api.currentVersion(m.secretID)
		ttl := time.Duration(m.rng.Int64N(int64(m.maxTTL/2))) + m.maxTTL/2
		m.nextRefresh = now.Add(ttl)
		m.loaded = true
	}
	if m.versions == nil {
		m.versions = map[string]string{}
	}
	v, ok := m.versions[m.current]
	if !ok {
		m.res.getSecretValue++
		out, err := m.api.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{
			SecretId: aws.String(m.secretID), VersionId: aws.String(m.current),
		})
		if err != nil {
			return ""
		}
		v = aws.ToString(out.SecretString)
		m.versions[m.current] = v
	}
	return v
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// simCases are the compared configurations, one day each.
func simCases() []simConfig {
	fyber := vendors.MustLookup(vendors.Fyber)
	base := simConfig{spec: fyber, instances: 50, every: 10 * time.Second, duration: 24 * time.Hour, seed: 1}
	ours := base
	ours.model = "ours"
	oursExpiryOnly := ours
	oursExpiryOnly.opts = []Option{WithMaxAge(0)}
	awsModel := base
	awsModel.model = "aws"
	return []simConfig{ours, oursExpiryOnly, awsModel}
}

func simName(c simConfig) string {
	if c.model == "aws" {
		return "aws-secretsmanager-caching-go"
	}
	if len(c.opts) > 0 {
		return "reader-expiry-only"
	}
	return "reader-defaults"
}

// TestSimulationServesNoExpiredToken is the claim the package makes: over a
// day of one-hour Fyber tokens refreshed on the deployed schedule, this
// reader hands out no expired token, while a cache with a randomised TTL of
// up to an hour does.
func TestSimulationServesNoExpiredToken(t *testing.T) {
	for _, c := range simCases() {
		t.Run(simName(c), func(t *testing.T) {
			res := simulate(t, c)
			t.Logf("%s: %d uses by %d instances, %d expired served (%.2f%%), %d refreshes, "+
				"GetSecretValue %d (%.2f per refresh per instance), DescribeSecret %d (%.2f per refresh per instance)",
				simName(c), res.uses, c.instances, res.expiredServed, 100*float64(res.expiredServed)/float64(max(res.uses, 1)),
				res.refreshes, res.getSecretValue, res.perRefreshPerInstance(res.getSecretValue, c.instances),
				res.describeSecret, res.perRefreshPerInstance(res.describeSecret, c.instances))
			if res.errors != 0 {
				t.Errorf("%d Get errors, want 0", res.errors)
			}
			// 24 h of 1 h tokens refreshed below half their life on a
			// 15-minute schedule: one new token every 30 minutes.
			if want := int(c.duration / (c.spec.Every * 2)); res.refreshes < want || res.refreshes > want+1 {
				t.Errorf("refreshes = %d, want %d or %d", res.refreshes, want, want+1)
			}
			switch c.model {
			case "ours":
				if res.expiredServed != 0 {
					t.Errorf("served %d expired tokens, want 0", res.expiredServed)
				}
				if per := res.perRefreshPerInstance(res.getSecretValue, c.instances); per > 3 {
					t.Errorf("GetSecretValue per refresh per instance = %.2f, want at most 3", per)
				}
			case "aws":
				if res.expiredServed == 0 {
					t.Errorf("the model served no expired token; it should, with TTLs up to the token lifetime")
				}
			}
		})
	}
}

// BenchmarkSimulation reports, per simulated day, the expired tokens served
// and the Secrets Manager calls per refresh per app instance.
func BenchmarkSimulation(b *testing.B) {
	for _, c := range simCases() {
		b.Run(simName(c), func(b *testing.B) {
			var res simResult
			for i := 0; b.Loop(); i++ {
				c.seed = uint64(i + 1)
				res = simulate(b, c)
			}
			b.ReportMetric(float64(res.expiredServed), "expired-served/day")
			b.ReportMetric(100*float64(res.expiredServed)/float64(max(res.uses, 1)), "expired-%")
			b.ReportMetric(res.perRefreshPerInstance(res.getSecretValue, c.instances), "GetSecretValue/refresh/instance")
			b.ReportMetric(res.perRefreshPerInstance(res.getSecretValue+res.describeSecret, c.instances), "API-calls/refresh/instance")
		})
	}
}
