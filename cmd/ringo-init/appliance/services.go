package appliance

import (
	"bytes"
	"net"

	"github.com/ringonet/ringo/netcore/udp"
)

// maxStatus bounds the status report sent in one datagram.
const maxStatus = 60000

// StartServices runs the UDP echo, discard and status services on the
// configured ports. Stop them with Close.
func (s *System) StartServices() error {
	serve := func(port int, handle func(c *udp.Conn, p []byte, from net.Addr)) error {
		if port == 0 {
			return nil
		}
		c, err := s.Stack.ListenUDP(&net.UDPAddr{Port: port})
		if err != nil {
			return err
		}
		s.services = append(s.services, func() { c.Close() })
		go func() {
			buf := make([]byte, 65536)
			for {
				n, from, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				handle(c, buf[:n], from)
			}
		}()
		s.Log.Info("service", "proto", "udp", "port", port)
		return nil
	}
	if err := serve(s.Cfg.EchoPort, func(c *udp.Conn, p []byte, from net.Addr) { c.WriteTo(p, from) }); err != nil {
		return err
	}
	if err := serve(s.Cfg.Discard, func(*udp.Conn, []byte, net.Addr) {}); err != nil {
		return err
	}
	return serve(s.Cfg.Status, func(c *udp.Conn, _ []byte, from net.Addr) {
		var b bytes.Buffer
		s.WriteStatus(&b)
		out := b.Bytes()
		if len(out) > maxStatus {
			out = append(out[:maxStatus], "\n[truncated]\n"...)
		}
		c.WriteTo(out, from)
	})
}
