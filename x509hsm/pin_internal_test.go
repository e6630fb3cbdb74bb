package x509hsm

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purepkcs11/pkcs11"
	"github.com/purepkcs11/pkcs11/internal/p11test"
	"github.com/purepkcs11/pkcs11/token"
)

// TestPINInMemory checks that an entry keeps its PIN only sealed: no
// byte slice, array or string reachable from the entry (its store,
// token state, pools and module included) holds the PIN in clear, and
// Close zeroes the key and the ciphertext.
func TestPINInMemory(t *testing.T) {
	hsm, err := SoftHSMForTest()
	p11test.Require(t, "SoftHSM2", err)
	m, err := pkcs11.Open(hsm.Lib)
	require.NoError(t, err)
	defer m.Close()
	require.NoError(t, SetUpPINToken(m))

	ctx := context.Background()
	s, err := Open(ctx, m, WithTokens(token.Label(TokPIN)), WithPIN(token.Label(TokPIN), PINTokenPIN))
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Wait(ctx))
	e, err := s.FindOne(ByLabel("pin-key"))
	require.NoError(t, err)
	require.NoError(t, e.SetPIN(bytes.Clone(PINTokenPIN)))
	_, err = e.Sign([]byte("message"))
	require.NoError(t, err)

	p := e.pin
	require.NotNil(t, p)
	key, ct := p.key, p.ct
	require.NotNil(t, key)
	assert.NotEqual(t, [32]byte{}, *key)
	assert.NotEmpty(t, ct)
	assert.NotSame(t, &ct[0], &key[0])

	// The walker finds a PIN where there is one.
	probe := &walker{needle: PINTokenPIN, seen: map[uintptr]bool{}}
	probe.walk(reflect.ValueOf(&struct {
		a any
		m map[string]*[32]byte
	}{a: &struct{ s string }{"x" + string(PINTokenPIN)}}), "probe")
	require.Len(t, probe.found, 1)

	w := &walker{needle: PINTokenPIN, seen: map[uintptr]bool{}}
	w.walk(reflect.ValueOf(e), "entry")
	assert.Empty(t, w.found, "the PIN in clear")
	assert.Greater(t, w.visited, 100, "the walk reached the store, pools and module")
	t.Logf("%d values walked", w.visited)

	// The store's own sealed copy, and the entry's, open to the PIN.
	b, err := p.open()
	require.NoError(t, err)
	assert.Equal(t, PINTokenPIN, b)

	require.NoError(t, e.Close())
	assert.Equal(t, [32]byte{}, *key, "the key is wiped")
	assert.Equal(t, make([]byte, len(ct)), ct, "the ciphertext is wiped")
	assert.Nil(t, e.pin)
	_, err = p.open()
	require.ErrorIs(t, err, errWiped)
	assert.False(t, p.alive())

	// The store's PIN still logs the token in; Close wipes it too.
	ts := e.tok
	own := ts.ownPIN
	require.NotNil(t, own)
	ownKey := own.key
	require.NoError(t, s.Close())
	assert.Equal(t, [32]byte{}, *ownKey)
	assert.False(t, own.alive())
}

// walker looks for needle in every byte slice, byte array and string
// reachable from a value, through pointers, interfaces, structs (their
// unexported fields too), slices, arrays, maps and atomic.Pointers.
type walker struct {
	needle  []byte
	seen    map[uintptr]bool
	found   []string
	visited int
}

func (w *walker) walk(v reflect.Value, path string) {
	if !v.IsValid() || len(path) > 2000 {
		return
	}
	w.visited++
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || w.seen[v.Pointer()] {
			return
		}
		w.seen[v.Pointer()] = true
		w.walk(v.Elem(), path)
	case reflect.Interface:
		w.walk(v.Elem(), path)
	case reflect.Struct:
		t := v.Type()
		// atomic.Pointer[T] holds its value as an unsafe.Pointer; its
		// first field, [0]*T, names T.
		if t.PkgPath() == "sync/atomic" && strings.HasPrefix(t.Name(), "Pointer[") {
			elem := t.Field(0).Type.Elem().Elem()
			ptr := v.FieldByName("v")
			if !ptr.IsNil() {
				w.walk(reflect.NewAt(elem, unsafe.Pointer(ptr.Pointer())), path+".Load()")
			}
			return
		}
		for i := range v.NumField() {
			w.walk(v.Field(i), path+"."+t.Field(i).Name)
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			w.check(v.Bytes(), path)
			return
		}
		if w.seen[v.Pointer()] && v.Len() > 0 {
			return
		}
		w.seen[v.Pointer()] = true
		for i := range v.Len() {
			w.walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			for i := range b {
				b[i] = byte(v.Index(i).Uint())
			}
			w.check(b, path)
			return
		}
		for i := range v.Len() {
			w.walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if v.IsNil() || w.seen[v.Pointer()] {
			return
		}
		w.seen[v.Pointer()] = true
		it := v.MapRange()
		for it.Next() {
			w.walk(it.Key(), path+"[key]")
			w.walk(it.Value(), path+"[value]")
		}
	case reflect.String:
		w.check([]byte(v.String()), path)
	}
}

func (w *walker) check(b []byte, path string) {
	if bytes.Contains(b, w.needle) {
		w.found = append(w.found, path)
	}
}
