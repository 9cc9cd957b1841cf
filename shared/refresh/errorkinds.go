package refresh

import "errors"

// ErrCredentialsMissing is matched (errors.Is) by the error of a run whose
// credentials secret is not configured, does not exist, is not filled in
// yet, or lacks a field: an operator must run tokenctl set-credentials.
var ErrCredentialsMissing = errors.New("credentials missing")

// credentialsError is an error about the credentials secret; its text is
// the wrapped error's.
type credentialsError struct{ err error }

func (e credentialsError) Error() string        { return e.err.Error() }
func (e credentialsError) Unwrap() error        { return e.err }
func (e credentialsError) Is(target error) bool { return target == ErrCredentialsMissing }

// missingCredentials marks err as ErrCredentialsMissing.
func missingCredentials(err error) error { return credentialsError{err} }
