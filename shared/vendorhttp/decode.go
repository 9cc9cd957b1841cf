package vendorhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
)

// DecodeJSON decodes a successful reply's body into v. Its errors describe
// what is wrong (not JSON, wrong type of a field) without quoting the body,
// which may hold a token.
func DecodeJSON(r *Response, v any) error {
	return DecodeJSONBody(r.Body, r.Header.Get("Content-Type"), v)
}

// DecodeJSONBody is DecodeJSON for a bare body and its content type.
func DecodeJSONBody(body []byte, contentType string, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return errors.New("reply body is empty")
	}
	if trimmed[0] != '{' {
		mt, _, _ := mime.ParseMediaType(contentType)
		if mt == "" {
			mt = "no content type"
		}
		return fmt.Errorf("reply is not a JSON object (%s, %d bytes)", mt, len(body))
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("reply is not valid JSON (error at byte %d of %d)", se.Offset, len(body))
		case errors.As(err, &te):
			return fmt.Errorf("reply field %q is a JSON %s, want %s", te.Field, te.Value, te.Type)
		default:
			return errors.New("reply is not valid JSON")
		}
	}
	return nil
}

// OAuthError decodes the common error bodies: {"error","error_description"},
// {"code","message"} and {"message"}. A body that is not JSON gives no code
// and a description naming its size only.
func OAuthError(_ int, body []byte) (code, description string) {
	var e struct {
		Error            any    `json:"error"`
		ErrorDescription string `json:"error_description"`
		Code             any    `json:"code"`
		Message          string `json:"message"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(body), &e); err != nil {
		if len(bytes.TrimSpace(body)) == 0 {
			return "", ""
		}
		return "", fmt.Sprintf("non-JSON error body of %d bytes", len(body))
	}
	code = scalar(e.Error)
	if code == "" {
		code = scalar(e.Code)
	}
	description = e.ErrorDescription
	if description == "" {
		description = e.Message
	}
	if code == "" && description == "" {
		if s, ok := e.Error.(string); ok {
			description = s
		}
	}
	return code, description
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprintf("%g", x)
	default:
		return ""
	}
}
