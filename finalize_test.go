package pkcs11_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11/ck"
)

// TestFinalizeWithCallsInFlight finalizes and initializes SoftHSM again
// and again while other goroutines call into it. PKCS#11 leaves a
// C_Finalize made during other calls undefined, and SoftHSM crashes on
// it (seen on linux/arm): the library must let the calls in flight end
// first and hold new ones back until C_Finalize has returned. The other
// goroutines then see CKR_CRYPTOKI_NOT_INITIALIZED or success, nothing
// else.
func TestFinalizeWithCallsInFlight(t *testing.T) {
	m := softhsm(t)
	var stop atomic.Bool
	var calls, refused atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				slots, err := m.GetSlotList(true)
				if err == nil && len(slots) > 0 {
					_, err = m.GetTokenInfo(slots[0])
				}
				switch {
				case err == nil:
					calls.Add(1)
				case errors.Is(err, ck.CKR_CRYPTOKI_NOT_INITIALIZED):
					refused.Add(1)
				case errors.Is(err, ck.CKR_SLOT_ID_INVALID):
					// The slot list came from before a C_Finalize.
				default:
					errs <- err
					return
				}
			}
		})
	}
	for range 50 {
		require.NoError(t, m.Finalize())
		require.NoError(t, m.Initialize())
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d calls succeeded, %d found the module finalized", calls.Load(), refused.Load())
	require.NotZero(t, calls.Load(), "no call ran beside the C_Finalize/C_Initialize cycles")
}
