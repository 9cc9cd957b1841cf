package admitad

import "context"

// alreadyUsed reports whether state is the one that made the stored
// connection: a callback replayed after it completed, typically from the
// browser's history once the cookie it was bound to was cleared. The state
// cannot be verified without its cookie; it is only compared with the
// stored record, and nothing is changed either way.
func (h *Callback) alreadyUsed(ctx context.Context, r *request, state string) bool {
	_, _, _, _, nonce, _, ok := splitState(state)
	if !ok || r.target.RefreshSecretID == "" {
		return false
	}
	conn, _, err := ReadConnection(ctx, h.Store, r.target.RefreshSecretID)
	return err == nil && conn.ConnectState != "" && conn.ConnectState == (State{nonce: nonce}).Fingerprint()
}

// usedLinkPage is the page for a callback that already completed.
func usedLinkPage(r *request) page {
	return page{
		Title: "This sign-in was already completed",
		Lines: []string{
			"This link was already used: it connected Admitad, and it cannot connect again. Nothing was changed.",
			r.newLinkHint(),
		},
	}
}
