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

// Stat is one named counter. A Gauge goes down as well as up (an
// atomic.Int64 field: connections established, a rate).
type Stat struct {
	Name  string
	Value uint64
	Gauge bool
}

// Fields returns the atomic.Uint64 and atomic.Int64 fields of the struct v
// points to, in declaration order, named as declared (RxBadLength). Other
// fields and unexported ones are skipped; an atomic.Int64 is a Gauge. It
// panics if v is not a pointer to a struct: that is a programming error,
// never input.
func Fields(v any) []Stat {
	rv := reflect.ValueOf(v).Elem()
	out := make([]Stat, 0, rv.NumField())
	for i := 0; i < rv.NumField(); i++ {
		if !rv.Type().Field(i).IsExported() {
			continue
		}
		st := Stat{Name: rv.Type().Field(i).Name}
		switch c := rv.Field(i).Addr().Interface().(type) {
		case *atomic.Uint64:
			st.Value = c.Load()
		case *atomic.Int64:
			st.Value, st.Gauge = uint64(c.Load()), true
		default:
			continue
		}
		out = append(out, st)
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
			// A split before an upper-case letter that follows a lower-case
			// one, or that starts a word after an acronym (DMATimeouts) —
			// but an acronym's plural or version stays whole (DelayedACKs,
			// MLDv2Reports).
			plural := i+1 < len(s) && s[i+1] == 's' && (i+2 == len(s) || upper(i+2))
			version := i+2 < len(s) && s[i+1] == 'v' && s[i+2] >= '0' && s[i+2] <= '9' // MLDv2
			if i > 0 && (!upper(i-1) || (i+1 < len(s) && !upper(i+1) && !plural && !version)) {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}
