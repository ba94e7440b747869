package appliance

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"time"

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
	if err := serve(s.Cfg.Status, func(c *udp.Conn, _ []byte, from net.Addr) {
		var b bytes.Buffer
		s.WriteStatus(&b)
		out := b.Bytes()
		if len(out) > maxStatus {
			out = append(out[:maxStatus], "\n[truncated]\n"...)
		}
		c.WriteTo(out, from)
	}); err != nil {
		return err
	}
	return s.startTCPServices()
}

// startTCPServices runs TCP echo and discard, and the status page over
// HTTP, on ringo's own TCP.
func (s *System) startTCPServices() error {
	serve := func(port int, handle func(net.Conn)) error {
		if port == 0 {
			return nil
		}
		l, err := s.Stack.TCP.Listen(&net.TCPAddr{Port: port})
		if err != nil {
			return err
		}
		s.services = append(s.services, func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() { defer c.Close(); handle(c) }()
			}
		}()
		s.Log.Info("service", "proto", "tcp", "port", port)
		return nil
	}
	if err := serve(s.Cfg.EchoPort, func(c net.Conn) { io.Copy(c, c) }); err != nil {
		return err
	}
	if err := serve(s.Cfg.Discard, func(c net.Conn) { io.Copy(io.Discard, c) }); err != nil {
		return err
	}
	if s.Cfg.HTTP == 0 {
		return nil
	}
	l, err := s.Stack.TCP.Listen(&net.TCPAddr{Port: s.Cfg.HTTP})
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
	s.services = append(s.services, func() { srv.Close() })
	go srv.Serve(l)
	s.Log.Info("service", "proto", "http", "port", s.Cfg.HTTP)
	return nil
}

func (s *System) httpHandler() http.Handler {
	mux := http.NewServeMux()
	// Plain patterns: u-root builds the initramfs with an older net/http
	// mux default, which does not read method and wildcard patterns.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		s.WriteStatus(w)
	})
	return mux
}
