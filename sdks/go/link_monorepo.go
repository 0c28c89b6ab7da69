//go:build !agt_system

package agt

// Inside the toolkit's repository: the header and the static library that
// `cargo build -p agt-ffi --release` writes in packages/agt-evaluator (a single Go binary, no
// shared library to ship). Build with `-tags agt_system` to link an installed libagt instead.

// #cgo CFLAGS: -I${SRCDIR}/../../packages/agt-evaluator/crates/agt-ffi/include
// #cgo LDFLAGS: ${SRCDIR}/../../packages/agt-evaluator/target/release/libagt.a -lm -ldl -lpthread
import "C"
