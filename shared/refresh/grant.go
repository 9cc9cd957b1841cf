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
		ExpiresIn:   time.Duration(expiresInSeconds) * time.Second,
		Date:        resp.Date,
		Sent:        resp.Sent,
	}
	if exp, ok := jwtexp.Numeric(accessToken); ok {
		g.NotAfter = exp
	}
	return g
}
