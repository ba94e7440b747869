package netcore

import "strings"

type stringsBuilder struct{ strings.Builder }

func (s *stringsBuilder) lines() []string {
	return strings.Split(strings.TrimSpace(s.String()), "\n")
}
