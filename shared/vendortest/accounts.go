package vendortest

import "sort"

// SandboxAccount names the account of the sandbox credentials
// (Credentials) that every server accepts until Rotate replaces them.
const SandboxAccount = "sandbox"

// AddAccount makes the server accept another set of credentials, named
// name, as a vendor account does: the fields are those of the vendor's
// credentials secret (Credentials shows them). Tokens issued for it are
// recorded as issued to name (IssuedTo), by a server whose token handler
// finds the account with Account.
func (s *Server) AddAccount(name string, creds map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accountsLocked()[name] = clone(creds)
}

// Rotate replaces the credentials of account name (SandboxAccount for the
// sandbox), as an operator who rotates a client secret at the vendor: the
// old ones are refused from now on.
func (s *Server) Rotate(name string, creds map[string]string) { s.AddAccount(name, creds) }

// IssuedTo returns the account an access token was issued for, "" if the
// server never issued it.
func (s *Server) IssuedTo(tok string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tok]; ok {
		return t.account
	}
	return ""
}

// IssuedFor returns, per account, how many access tokens were issued.
func (s *Server) IssuedFor() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, t := range s.tokens {
		out[t.account]++
	}
	return out
}

func (s *Server) accountsLocked() map[string]map[string]string {
	if s.accounts == nil {
		s.accounts = map[string]map[string]string{SandboxAccount: Credentials(s.vendor)}
	}
	return s.accounts
}

// account returns the account whose credentials have every given field
// equal (compared in constant time), trying accounts in name order.
func (s *Server) account(given map[string]string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	accts := s.accountsLocked()
	names := make([]string, 0, len(accts))
	for n := range accts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ok := true
		for k, v := range given {
			if !equal(v, accts[n][k]) {
				ok = false
			}
		}
		if ok {
			return n, true
		}
	}
	return "", false
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
