package pkcs11

import "testing"

// TestFuncIndexNames checks that the fn* indexes name the functions they
// stand for in ck.FunctionNames.
func TestFuncIndexNames(t *testing.T) {
	for f, want := range map[funcIndex]string{
		fnInitialize: "C_Initialize", fnWaitForSlotEvent: "C_WaitForSlotEvent",
		fnGetInterfaceList: "C_GetInterfaceList", fnMessageVerifyFinal: "C_MessageVerifyFinal",
		fnEncapsulateKey: "C_EncapsulateKey", fnUnwrapKeyAuthenticated: "C_UnwrapKeyAuthenticated",
		fnSign: "C_Sign", fnGetAttributeValue: "C_GetAttributeValue",
	} {
		if got := f.String(); got != want {
			t.Errorf("index %d is %s, want %s", f, got, want)
		}
	}
	if fnWaitForSlotEvent+1 != funcs2x || fnMessageVerifyFinal+1 != funcs30 || fnUnwrapKeyAuthenticated+1 != funcs32 {
		t.Error("the version boundaries do not fall after the last function of each version")
	}
	for f := range numFuncs {
		if len(funcArgs[f]) == 0 {
			// Every Cryptoki function takes arguments the tracer names.
			t.Errorf("%v has no argument specs", f)
		}
	}
}
