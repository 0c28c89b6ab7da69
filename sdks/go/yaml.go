package agt

/*
#include <stdlib.h>
#include "agt.h"
*/
import "C"

import (
	"encoding/json"
	"path/filepath"
	"runtime"
)

// LoadPolicyFiles compiles policy files or folders (a folder: every *.yaml, *.yml and *.json
// directly inside it, by name), in order, into one set.
func LoadPolicyFiles(paths ...string) (*PolicySet, error) {
	abs := make([]string, len(paths))
	for i, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, &PolicyError{Message: err.Error(), File: p}
		}
		abs[i] = a
	}
	list, err := json.Marshal(abs)
	if err != nil {
		return nil, err
	}
	var c cstrings
	defer c.free()
	text := c.add(string(list))
	if err := c.check(); err != nil {
		return nil, err
	}
	var ptr *C.AgtPolicySet
	var errText *C.char
	if status := C.agt_policy_set_load_files(text, nil, &ptr, &errText); int(status) != statusOK {
		return nil, failure(status, errText)
	}
	return wrapNative(ptr)
}

// CompilePolicyYAML compiles `governance.toolkit/v1` YAML text (one policy per `---` document).
// `extends` needs files: use LoadPolicyFiles.
func CompilePolicyYAML(text string) (*PolicySet, error) {
	var c cstrings
	defer c.free()
	t := c.add(text)
	if err := c.check(); err != nil {
		return nil, err
	}
	var ptr *C.AgtPolicySet
	var errText *C.char
	if status := C.agt_policy_set_load_yaml(t, nil, &ptr, &errText); int(status) != statusOK {
		return nil, failure(status, errText)
	}
	return wrapNative(ptr)
}

func wrapNative(ptr *C.AgtPolicySet) (*PolicySet, error) {
	native := &nativeSet{ptr: ptr}
	runtime.SetFinalizer(native, func(s *nativeSet) { C.agt_policy_set_free(s.ptr) })
	return describe(native)
}
