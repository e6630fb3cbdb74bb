package session

// SetAlwaysAuthenticate makes the token of s remember v as whether key
// wants a context-specific login, as if it had read it: tests use it to
// show what a stale answer does.
func SetAlwaysAuthenticate(s *Session, key Object, v bool) {
	s.tok.alwaysAuth.Store(keyOf(key), v)
}

// SetSignScratch sets the size of the buffer Sign offers C_Sign, and
// returns a function that restores it: tests make it too small for a
// signature to show the fallback.
func SetSignScratch(n int) (restore func()) {
	old := signScratchSize
	signScratchSize = n
	return func() { signScratchSize = old }
}
