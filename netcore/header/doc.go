// Package header has typed views over packet bytes: Ethernet, ARP, IPv4,
// ICMPv4, UDP and TCP. A view is a []byte with accessor methods; Parse
// functions check a buffer once (telling truncated from malformed) and
// return a view whose accessors cannot go out of range. Encoders write a
// header from a fields struct into a caller's buffer. Nothing here
// allocates.
package header

import "errors"

// Errors the parsers return. Callers count them and drop the packet.
var (
	ErrTruncated = errors.New("header: truncated")
	ErrMalformed = errors.New("header: malformed")
	ErrChecksum  = errors.New("header: bad checksum")
)
