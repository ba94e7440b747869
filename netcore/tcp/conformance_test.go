package tcp_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ringonet/ringo/netcore/header"
	"github.com/ringonet/ringo/netcore/tcp"
)

// scenario is one conformance case: its name says the RFC section (or
// Linux function) whose behaviour it checks.
type scenario struct {
	name string
	cfg  tcp.Config
	run  func(t *testing.T, tc *tester)
}

var scenarios []scenario

func add(name string, run func(t *testing.T, tc *tester)) {
	scenarios = append(scenarios, scenario{name: name, run: run})
}

func addCfg(name string, cfg tcp.Config, run func(t *testing.T, tc *tester)) {
	scenarios = append(scenarios, scenario{name: name, cfg: cfg, run: run})
}

// TestConformance runs every scripted scenario: go test -run
// TestConformance -v ./netcore/tcp/ lists them.
func TestConformance(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			sc.run(t, newTester(t, sc.cfg))
		})
	}
}

var _ = assert.Equal
var _ = require.Equal
var _ = header.TCPFlagACK
