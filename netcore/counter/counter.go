// Package counter lists a struct of atomic counters as name/value pairs,
// the shape of /proc/net/snmp's groups and of ethtool -S: a protocol or a
// driver keeps its counters as struct fields and prints them without a
// second list of names to keep in step.
package counter

import (
	"reflect"
	"strings"
	"sync/atomic"
)

// Stat is one named counter.
type Stat struct {
	Name  string
	Value uint64
}

// Fields returns the atomic.Uint64 and atomic.Int64 fields of the struct v
// points to, in declaration order, named as declared (RxBadLength). Other
// fields and unexported ones are skipped. It panics if v is not a pointer to a struct: that is
// a programming error, never input.
func Fields(v any) []Stat {
	rv := reflect.ValueOf(v).Elem()
	out := make([]Stat, 0, rv.NumField())
	for i := 0; i < rv.NumField(); i++ {
		if !rv.Type().Field(i).IsExported() {
			continue
		}
		var val uint64
		switch c := rv.Field(i).Addr().Interface().(type) {
		case *atomic.Uint64:
			val = c.Load()
		case *atomic.Int64:
			val = uint64(c.Load())
		default:
			continue
		}
		out = append(out, Stat{rv.Type().Field(i).Name, val})
	}
	return out
}

// Snake names the fields as ethtool -S does: RxBadLength is rx_bad_length,
// DMATimeouts dma_timeouts.
func Snake(stats []Stat) []Stat {
	for i := range stats {
		stats[i].Name = snake(stats[i].Name)
	}
	return stats
}

func snake(s string) string {
	var b strings.Builder
	upper := func(i int) bool { return i >= 0 && i < len(s) && s[i] >= 'A' && s[i] <= 'Z' }
	for i := 0; i < len(s); i++ {
		c := s[i]
		if upper(i) {
			if i > 0 && (!upper(i-1) || (i+1 < len(s) && !upper(i+1))) {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}
