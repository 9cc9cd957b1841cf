package admitad

import (
	"bytes"
	"context"
)

// The signing key that signs connect links and states, read from its
// secret and cached (the store side of the callback).

// verifyWithKey runs check (a link's or a state's verification) with the
// signing key, read from Secrets Manager at most once per KeyTTL. When
// check fails, the key was not read just now and no read was tried in the
// last SigningKeyRecheck, the key is read once more and, if it changed,
// check repeated with it. It returns the key check ran with last, check's
// error, and the error of reading the key when there is no key to check
// with at all.
func (h *Callback) verifyWithKey(ctx context.Context, check func(key []byte) error) (key []byte, checkErr, readErr error) {
	key, fresh, readErr := h.signingKey(ctx, false)
	if readErr != nil {
		return nil, nil, readErr
	}
	if checkErr = check(key); checkErr == nil || fresh {
		return key, checkErr, nil
	}
	h.keyMu.Lock()
	recheck := !h.now().Before(h.keyTried.Add(SigningKeyRecheck))
	h.keyMu.Unlock()
	if !recheck {
		return key, checkErr, nil
	}
	if newer, _, err := h.signingKey(ctx, true); err == nil && !bytes.Equal(newer, key) {
		return newer, check(newer), nil
	}
	// Unchanged or unreadable: the refusal stands, the cached key stays.
	return key, checkErr, nil
}

// signingKey returns the cached signing key, reading it when there is
// none, it is KeyTTL old, or reload is set. fresh reports that it was read
// just now. When a read fails, the key read before (if any) is used until
// a read works; reads are then tried at most once per SigningKeyRetry.
func (h *Callback) signingKey(ctx context.Context, reload bool) (key []byte, fresh bool, err error) {
	h.keyMu.Lock()
	defer h.keyMu.Unlock()
	ttl := h.KeyTTL
	if ttl <= 0 {
		ttl = SigningKeyTTL
	}
	now := h.now()
	live := h.key != nil && !now.Before(h.keyRead) && now.Sub(h.keyRead) < ttl
	backoff := h.keyErr != nil && !now.Before(h.keyTried) && now.Sub(h.keyTried) < SigningKeyRetry
	if !reload && (live || backoff) {
		if h.key != nil {
			return h.key, false, nil
		}
		return nil, false, h.keyErr
	}
	h.keyTried = now
	key, err = LoadSigningKey(ctx, h.Store, h.Config.SigningKeySecretID)
	h.keyErr = err
	if err != nil {
		if h.key != nil && !reload {
			// Expired but readable before: keep using it until a read
			// works, rather than refuse every link.
			return h.key, false, nil
		}
		return nil, false, err
	}
	h.key, h.keyRead = key, now
	return key, true, nil
}
