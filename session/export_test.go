package session

// SetAlwaysAuthenticate makes the token of s remember v as whether key
// wants a context-specific login, as if it had read it: tests use it to
// show what a stale answer does.
func SetAlwaysAuthenticate(s *Session, key Object, v bool) {
	s.tok.alwaysAuth.Store(keyOf(key), v)
}
