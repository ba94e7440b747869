package appliance

import "github.com/ringonet/ringo/netcore"

func (s *System) dhcp(d *netcore.Device) error { return errNoDHCP }
