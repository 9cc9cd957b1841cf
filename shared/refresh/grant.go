package refresh

import (
	"time"

	"github.com/token-refresher/token-refresher/shared/jwtexp"
	"github.com/token-refresher/token-refresher/shared/vendorhttp"
)

// NewGrant builds the grant for a token obtained in resp: the vendor's
// stated lifetime (0 when it states none), its Date header, the send time,
// and the token's own JWT "exp" when it has one.
func NewGrant(resp *vendorhttp.Response, accessToken, tokenType string, expiresInSeconds int64) *Grant {
	g := &Grant{
		AccessToken: accessToken,
		TokenType:   tokenType,
		ExpiresIn:   Seconds(expiresInSeconds),
		Date:        resp.Date,
		Sent:        resp.Sent,
	}
	if exp, ok := jwtexp.Numeric(accessToken); ok {
		g.NotAfter = exp
	}
	return g
}

// MaxExpiresIn caps a lifetime a vendor states in seconds: ten years, far
// beyond any token's nominal lifetime (which caps it again when the token
// is published) and far below time.Duration's limit of about 292 years.
const MaxExpiresIn = 10 * 365 * 24 * time.Hour

// Seconds converts a vendor's count of seconds (expires_in) to a
// duration, clamped to ±MaxExpiresIn. Multiplying first,
// time.Duration(n)*time.Second, overflows for n above 9223372036 and
// wraps a huge lifetime into a negative one. The sign is kept, so a
// negative expires_in is still refused as such.
func Seconds(n int64) time.Duration {
	limit := int64(MaxExpiresIn / time.Second)
	switch {
	case n > limit:
		return MaxExpiresIn
	case n < -limit:
		return -MaxExpiresIn
	}
	return time.Duration(n) * time.Second
}
