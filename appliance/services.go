package appliance

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ringonet/ringo/netcore/udp"
)

// maxStatus bounds the status report sent in one datagram.
const maxStatus = 60000

// Defaults against abuse. The UDP status report is up to 60 KB: answered
// to any datagram, a reflection amplifier for anyone who can spoof a
// source. So a datagram gets at most as many bytes of it as it carried
// (a client pads its request to read more, as QUIC's anti-amplification
// limit has it), unless it carries the cookie that GET /cookie handed to
// its source address over TCP, whose handshake proved the address (DNS
// cookies' idea, RFC 7873). Building the report costs CPU, so requests
// without a cookie get one reply per statusEvery, whoever asks, and each
// cookie's address one per statusEvery of its own. The TCP echo and
// discard services hold at most maxServiceConns connections each and
// the HTTP server maxHTTPConns (one more is closed at once), and the
// HTTP server times out slow clients; an echo or discard connection
// lives at most maxConnTime. Config.ConnRate limits new connections per
// source address.
const (
	statusEvery     = 250 * time.Millisecond
	maxServiceConns = 64
	maxHTTPConns    = 128
	maxConnTime     = 10 * time.Minute // a TCP service connection's whole life
	maxCookieHosts  = 1024             // addresses whose last cookie request is remembered
)

// ServiceStats count what the services refused.
type ServiceStats struct {
	StatusRateLimited atomic.Uint64 // status requests not answered: statusEvery
	StatusTruncated   atomic.Uint64 // status replies cut to the request's size: no cookie
	StatusCookies     atomic.Uint64 // whole reports sent to a cookie's address
	ConnsRefused      atomic.Uint64 // TCP connections closed at once: maxServiceConns, maxHTTPConns
	ConnsRateLimited  atomic.Uint64 // TCP connections closed at once: Config.ConnRate
}

// statusCookie is the cookie of a source address: a MAC of the address
// under the appliance's secret, in hex.
func (s *System) statusCookie(a netip.Addr) string {
	s.cookieOnce.Do(func() { rand.Read(s.cookieKey[:]) })
	m := hmac.New(sha256.New, s.cookieKey[:])
	b := a.Unmap().As16()
	m.Write(b[:])
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// statusLimiter is the status service's rate limit: the serving
// goroutine's own.
type statusLimiter struct {
	anon  time.Time
	hosts map[netip.Addr]time.Time
}

func (l *statusLimiter) allow(now time.Time, host netip.Addr, cookie bool) bool {
	if !cookie {
		if now.Sub(l.anon) < statusEvery {
			return false
		}
		l.anon = now
		return true
	}
	if now.Sub(l.hosts[host]) < statusEvery {
		return false
	}
	if l.hosts == nil || len(l.hosts) >= maxCookieHosts {
		l.hosts = make(map[netip.Addr]time.Time)
	}
	l.hosts[host] = now
	return true
}

// statusReply answers a datagram to the status port, or returns nil.
func (s *System) statusReply(lim *statusLimiter, req []byte, from netip.Addr) []byte {
	from = from.Unmap()
	cookie := false
	if c, ok := bytes.CutPrefix(bytes.TrimSpace(req), []byte("cookie ")); ok {
		cookie = hmac.Equal(c, []byte(s.statusCookie(from)))
	}
	if !lim.allow(time.Now(), from, cookie) {
		s.ServiceStats.StatusRateLimited.Add(1)
		return nil
	}
	var b bytes.Buffer
	s.WriteStatus(&b)
	out := b.Bytes()
	if len(out) > maxStatus {
		out = append(out[:maxStatus], "\n[truncated]\n"...)
	}
	if cookie {
		s.ServiceStats.StatusCookies.Add(1)
	} else if len(out) > len(req) {
		s.ServiceStats.StatusTruncated.Add(1)
		out = out[:len(req)]
	}
	return out
}

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
	var lim statusLimiter
	if err := serve(s.Cfg.Status, func(c *udp.Conn, req []byte, from net.Addr) {
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			return
		}
		if out := s.statusReply(&lim, req, ua.AddrPort().Addr()); len(out) > 0 {
			c.WriteTo(out, from)
		}
	}); err != nil {
		return err
	}
	return s.startTCPServices()
}

// startTCPServices runs TCP echo and discard, and the status page over
// HTTP, on ringo's own TCP.
func (s *System) startTCPServices() error {
	rate := newSourceRate(s.Cfg.ConnRate)
	listen := func(port, max int) (net.Listener, error) {
		l, err := s.Stack.TCP.Listen(&net.TCPAddr{Port: port})
		if err != nil {
			return nil, err
		}
		return newLimitListener(l, max, rate, &s.ServiceStats), nil
	}
	serve := func(port int, handle func(net.Conn)) error {
		if port == 0 {
			return nil
		}
		l, err := listen(port, maxServiceConns)
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
				go func() {
					defer c.Close()
					c.SetDeadline(time.Now().Add(maxConnTime))
					handle(c)
				}()
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
	l, err := listen(s.Cfg.HTTP, maxHTTPConns)
	if err != nil {
		return err
	}
	t := s.httpTimeouts
	if t == (httpTimeouts{}) {
		t = defaultHTTPTimeouts
	}
	srv := &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: t.header, ReadTimeout: t.read, WriteTimeout: t.write,
		IdleTimeout: t.idle, MaxHeaderBytes: 16 << 10, ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug)}
	s.services = append(s.services, func() { srv.Close() })
	go srv.Serve(l)
	s.Log.Info("service", "proto", "http", "port", s.Cfg.HTTP)
	return nil
}

// httpTimeouts bound how long a slow client holds an HTTP connection:
// the request header (slowloris), the whole request, the response, and
// an idle keep-alive connection.
type httpTimeouts struct{ header, read, write, idle time.Duration }

var defaultHTTPTimeouts = httpTimeouts{header: 10 * time.Second, read: 30 * time.Second, write: 30 * time.Second, idle: 60 * time.Second}

func (s *System) httpHandler() http.Handler {
	mux := http.NewServeMux()
	// Plain patterns: u-root builds the initramfs with an older net/http
	// mux default, which does not read method and wildcard patterns.
	text := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		s.WriteStatus(w)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		// A browser asks for HTML; curl and scripts (*/* or nothing)
		// get the text page they always had.
		w.Header().Set("Vary", "Accept")
		if !strings.Contains(r.Header.Get("Accept"), "text/html") {
			text(w)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
		h.Set("X-Content-Type-Options", "nosniff")
		io.WriteString(w, webPage)
	})
	mux.HandleFunc("/status.txt", func(w http.ResponseWriter, r *http.Request) { text(w) })
	mux.HandleFunc("/status.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(s.Status())
	})
	mux.Handle("/metrics", s.MetricsHandler())
	mux.HandleFunc("/cookie", func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			http.Error(w, "no address", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, "cookie %s\n", s.statusCookie(ap.Addr()))
	})
	return mux
}
