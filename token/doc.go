// Package token finds the slots, tokens and mechanisms of a PKCS#11 module,
// watches tokens come and go, and reads and writes [RFC 7512] pkcs11: URIs.
//
// # Entry points
//
// [Discover] reads a module's configuration into a [Snapshot]: the
// module's CK_INFO, every slot with its CK_SLOT_INFO, the [Token] in it
// with its CK_TOKEN_INFO, and optionally ([WithMechanisms]) each token's
// mechanisms. A slot that fails keeps its error in [Slot.Err]; the rest of
// the module is still discovered. [DiscoverContext] stops between calls
// when its context ends.
//
// [Snapshot.Find] and [Snapshot.Token] look tokens up by [Label],
// [LabelFold], [Serial], [Manufacturer], [Model], [InSlot] or [MatchURI];
// Snapshot.Token wants exactly one and says otherwise with a
// [*LookupError]. Look
// tokens up by label or serial, not by slot ID: modules renumber slots
// (SoftHSM derives them from serial numbers, p11-kit's proxy starts at
// 0x11).
//
// [Token.UserPIN] and [Token.SOPIN] read the PIN-state flags as a
// [PINState], and [Token.Refresh] reads a token's information again.
//
// [Watch] reports tokens [Inserted], [Removed] and [Changed] on a channel
// until its context ends, with C_WaitForSlotEvent where the module has
// slot events and by comparing discoveries where it does not.
//
// [ParseURI] reads a PKCS#11 URI into a [URI]; [URI.String] writes it
// back, without the PIN; [URI.MatchesToken], [URI.MatchesSlot],
// [URI.MatchesModule], [URI.MatchesModulePath] and [URI.MatchesObject]
// compare it with what a module reports, and [URI.ObjectTemplate] gives
// the attributes of the objects it names, for a search. The session
// package's FindURI searches a token with it.
//
// # Errors
//
// Errors start with "token: "; those of a module's function wrap the root
// package's *pkcs11.Error, so errors.Is(err, ck.CKR_...) works. No error
// holds a PIN.
//
// [RFC 7512]: https://www.rfc-editor.org/rfc/rfc7512
package token
