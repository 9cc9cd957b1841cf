package vendorhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// TokenReply is a standard OAuth 2.0 token reply (RFC 6749, section 5.1),
// the one decoder every vendor with a standard reply uses, as
// golang/oauth2 decodes every provider's reply with one type.
type TokenReply struct {
	AccessToken string
	TokenType   string
	// ExpiresIn is the lifetime the vendor states, in seconds; 0 when the
	// reply states none.
	ExpiresIn int64
	// RefreshToken and Scope are "" when the reply has none.
	RefreshToken string
	Scope        string
	// Fields are the reply's other top-level string fields (Admitad's
	// username), by name.
	Fields map[string]string
}

// Naming is the spelling of a token reply's field names.
type Naming int

const (
	// SnakeCase is the standard spelling: access_token, token_type,
	// expires_in, refresh_token, scope.
	SnakeCase Naming = iota
	// CamelCase is accessToken, tokenType, expiresIn, refreshToken,
	// scope: a vendor's documented variant (Fyber).
	CamelCase
)

// names returns the reply's field names under n.
func (n Naming) names() (access, typ, expires, refresh string) {
	if n == CamelCase {
		return "accessToken", "tokenType", "expiresIn", "refreshToken"
	}
	return "access_token", "token_type", "expires_in", "refresh_token"
}

// DecodeToken decodes and checks a successful token reply: a JSON object
// with a non-empty access token, a string token type if any, and
// expires_in, if present, a non-negative whole number given as a JSON
// number or a numeric string ("3600"), as some vendors send it. Its errors
// name the field (in the vendor's spelling) and never quote the body. A
// well-formed reply without a usable access token (none, or a negative
// expires_in) is an error for which Incomplete reports true, returned with
// the reply's other fields: a vendor that rotates refresh tokens must keep
// the refresh token it carries.
func DecodeToken(body []byte, contentType string, n Naming) (TokenReply, error) {
	var raw map[string]json.RawMessage
	if err := DecodeJSONBody(body, contentType, &raw); err != nil {
		return TokenReply{}, err
	}
	access, typ, expires, refresh := n.names()
	var r TokenReply
	var err error
	str := func(name string) string {
		v, ok := raw[name]
		if !ok || err != nil || string(v) == "null" {
			return ""
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			err = fmt.Errorf("reply field %q is not a string", name)
		}
		return s
	}
	r.RefreshToken = str(refresh)
	r.Scope = str("scope")
	r.AccessToken = str(access)
	r.TokenType = str(typ)
	if err != nil {
		return TokenReply{}, err
	}
	if v, ok := raw[expires]; ok && string(v) != "null" {
		if r.ExpiresIn, err = seconds(v); err != nil {
			return TokenReply{}, fmt.Errorf("reply field %q %v", expires, err)
		}
	}
	for k, v := range raw {
		switch k {
		case access, typ, expires, refresh, "scope":
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			if r.Fields == nil {
				r.Fields = map[string]string{}
			}
			r.Fields[k] = s
		}
	}
	switch {
	case r.AccessToken == "":
		return TokenReply{RefreshToken: r.RefreshToken, Scope: r.Scope, Fields: r.Fields}, incomplete("reply has no " + access)
	case r.ExpiresIn < 0:
		return TokenReply{RefreshToken: r.RefreshToken, Scope: r.Scope, Fields: r.Fields}, incomplete("reply has a negative " + expires)
	}
	return r, nil
}

// incomplete is DecodeToken's error for a well-formed reply without a
// usable access token.
type incomplete string

func (e incomplete) Error() string { return string(e) }

// Incomplete reports whether err is DecodeToken's error for a well-formed
// reply without a usable access token, returned with the reply's other
// fields.
func Incomplete(err error) bool {
	var e incomplete
	return errors.As(err, &e)
}

// seconds reads expires_in: a JSON number or a string holding one, whole.
func seconds(v json.RawMessage) (int64, error) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return 0, errors.New("is not a number")
		}
		v = []byte(strings.TrimSpace(s))
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err == nil {
		return n, nil
	}
	var ne *strconv.NumError
	if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
		if len(v) > 0 && v[0] == '-' {
			return -1, nil
		}
		return 1 << 62, nil
	}
	f, ferr := strconv.ParseFloat(string(v), 64)
	if ferr != nil || f != float64(int64(f)) {
		return 0, errors.New("is not a whole number of seconds")
	}
	return int64(f), nil
}
