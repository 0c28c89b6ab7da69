//go:build agt_system

package agt

// With `-tags agt_system`: agt.h and libagt from the system's (or CGO_CFLAGS/CGO_LDFLAGS') search
// paths, e.g. CGO_CFLAGS=-I/opt/agt/include CGO_LDFLAGS=-L/opt/agt/lib.

// #cgo LDFLAGS: -lagt -lm -ldl -lpthread
import "C"
