package appliance

import (
	"context"
	"time"

	"github.com/ringonet/ringo/netcore"
	"github.com/ringonet/ringo/netcore/dhcp"
)

// dhcp acquires a lease on d (waiting up to 30 s) and keeps it renewed in
// the background until Close.
func (s *System) dhcp(d *netcore.Device) error {
	c := dhcp.New(s.Stack.IP, d, s.Log)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	l, err := c.Acquire(ctx)
	cancel()
	if err != nil {
		c.Close()
		return err
	}
	s.Leases[d.Name] = l.String()
	if len(s.Cfg.DNS) == 0 && len(l.DNS) > 0 && len(s.Stack.Nameservers()) == 0 {
		s.Stack.SetNameservers(l.DNS...) // the first lease's, as resolvconf would
	}
	run, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(run) }()
	s.services = append(s.services, func() { stop(); <-done; c.Close() })
	return nil
}
