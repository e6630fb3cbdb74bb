//go:build windows

package loader

import "golang.org/x/sys/windows"

// loadFlags restricts the DLL search to the module's own directory and the
// system directories, so that dependencies are not picked up from the
// current directory or PATH.
const loadFlags = windows.LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | windows.LOAD_LIBRARY_SEARCH_DEFAULT_DIRS

func open(path string) (uintptr, error) {
	h, err := windows.LoadLibraryEx(path, 0, loadFlags)
	return uintptr(h), err
}

func lookup(h uintptr, name string) (uintptr, error) {
	return windows.GetProcAddress(windows.Handle(h), name)
}

func closeLib(h uintptr) error { return windows.FreeLibrary(windows.Handle(h)) }
