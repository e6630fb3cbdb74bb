// Package x509hsm presents the certificates and keys of PKCS#11 tokens
// as Go crypto: *x509.Certificate, crypto.Signer, crypto.Decrypter,
// tls.Certificate, and JWS signatures. Private keys never leave their
// token, and no function of this package returns a sensitive value.
//
// # Entry points
//
// [Open] starts discovering the tokens of a module in the background and
// returns a [Store] at once; [Store.Wait], [Store.Done] and [Store.Err]
// tell when it is done and what it could not read. Discovery reads every
// initialized token (or those [WithTokens] selects) and makes an
// [Entry] for each X.509 certificate, each public key without a
// certificate and each private key with neither whose public key the
// token shows. Keys without a certificate get a synthetic one (see
// [IsSynthetic]) so that they are listed and used like the others. Each
// certificate is linked to its keys by CKA_ID, or by public key value
// when the IDs do not match.
//
// [Store.Find] and [Store.FindOne] look entries up with selectors:
// [BySerial], [BySubject], [BySubjectCN], [BySubjectOrg], [ByIssuer],
// [BySubjectKeyID], [ByAuthorityKeyID], [BySHA1Fingerprint],
// [BySHA256Fingerprint], [ByKeyUsage], [ByDER], [ByLabel], [ByID],
// [ByURI], [OnToken], [HasPrivateKey], [Where] and [Limit].
//
// An entry's key signs through [Entry.Signer] (a crypto.Signer and
// crypto.MessageSigner for RSA PKCS #1 v1.5 and PSS, ECDSA and Ed25519),
// decrypts through [Entry.Decrypter] (RSA PKCS #1 v1.5 and OAEP),
// agrees on secrets with [Entry.ECDH], serves TLS through
// [Entry.TLSCertificate], and signs and verifies JWS with
// [Entry.Sign] and [Entry.Verify] in the algorithm of
// [Entry.SetJWSAlgorithm].
//
// [Store.Import] and [Store.ImportPEM] store a certificate with its key
// on a token; [Store.Generate] makes a key pair there, for which
// [Entry.CreateCSR] and [Entry.CreateSelfSigned] make certificates that
// [Entry.StoreCertificate] stores; [Store.Delete] destroys an entry's
// objects.
//
// # PINs and login
//
// Private objects are invisible until the token is logged in. Give
// PINs to discovery with [WithPIN] (per token, by label, serial or URI)
// or [WithPINFunc]; without one, discovery lists the public
// certificates and keys, and an entry's private key is found after
// [Entry.SetPIN]. A PIN is checked at once and never tried again after
// the token refused it (tokens lock after a few wrong tries). The store
// and its entries keep PINs encrypted in memory under random keys of
// their own, to log in again after the token logged out or a session
// was lost, and wipe them on Close. Nothing prints them: entries and
// stores format as descriptions.
//
// A store reads its tokens once, at Open, and follows the objects its
// own operations make and destroy, but not the tokens that come and go
// nor what other programs change: for those, open a new store
// (token.Watch tells when tokens change).
//
// # Concurrency
//
// Stores, entries, signers and decrypters are safe for concurrent use.
// Each token is used through session pools (package session), which
// lend one session per operation, replace lost ones and log in again.
//
// # Errors
//
// Errors start with "x509hsm: " and name the entry or token; those of a
// token's function wrap the session and root packages' errors, so
// errors.Is(err, ck.CKR_PIN_INCORRECT) works. [ErrNoPIN],
// [ErrNoPrivateKey], [ErrClosed], [ErrNotFound], [ErrAmbiguous] and
// [ErrVerification] are matched with errors.Is.
package x509hsm
