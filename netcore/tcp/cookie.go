package tcp

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/ringonet/ringo/netcore/header"
)

// SYN cookies (RFC 4987 3.6): when a listener's SYN queue is full, the
// SYN-ACK's sequence number carries what the connection needs and no
// state is kept; the ACK that completes the handshake proves the peer
// saw it. The 32 bits:
//
//	31..8  a keyed hash of the four-tuple, the peer's ISN and the time
//	 7..6  the time counter's low bits (64-second steps)
//	 5..4  the MSS, as an index into cookieMSS
//	 3..0  the peer's window scale, 15 if it sent none
//
// As in Linux without timestamps, SACK and timestamps are not kept:
// a connection made from a cookie runs without them.
var cookieMSS = [4]uint16{536, 1200, 1440, 1460}

const cookieStep = 64 // seconds per time counter step

func (t *Table) cookieHash(id fourTuple, peerISN, count uint32) uint32 {
	var in [32 + 16 + 16 + 2 + 2 + 4 + 4]byte
	copy(in[:32], t.cookieSecret[:])
	copy(in[32:], id.laddr[:])
	copy(in[48:], id.raddr[:])
	binary.BigEndian.PutUint16(in[64:], id.lport)
	binary.BigEndian.PutUint16(in[66:], id.rport)
	binary.BigEndian.PutUint32(in[68:], peerISN)
	binary.BigEndian.PutUint32(in[72:], count)
	sum := sha256.Sum256(in[:])
	return uint32(sum[0])<<16 | uint32(sum[1])<<8 | uint32(sum[2])
}

func (t *Table) cookieCount() uint32 { return uint32(t.clock.Now().Unix() / cookieStep) }

// makeCookie encodes a cookie for a SYN with the peer's ISN, MSS and
// window scale (-1: none).
func (t *Table) makeCookie(id fourTuple, peerISN uint32, mss uint16, ws int) uint32 {
	idx := 0
	for i, m := range cookieMSS {
		if m <= mss {
			idx = i
		}
	}
	wsBits := uint32(15)
	if ws >= 0 {
		wsBits = uint32(min(ws, 14))
	}
	count := t.cookieCount()
	return t.cookieHash(id, peerISN, count)<<8 | (count&3)<<6 | uint32(idx)<<4 | wsBits
}

// checkCookie validates a cookie echoed in an ACK (ack-1) against the
// peer's ISN (seq-1); it accepts cookies made in this or the previous
// time step.
func (t *Table) checkCookie(id fourTuple, peerISN, cookie uint32) (mss uint16, ws int, ok bool) {
	now := t.cookieCount()
	for _, count := range []uint32{now, now - 1} {
		if count&3 != (cookie>>6)&3 {
			continue
		}
		if t.cookieHash(id, peerISN, count) != cookie>>8 {
			continue
		}
		ws = int(cookie & 15)
		if ws == 15 {
			ws = -1
		}
		return cookieMSS[(cookie>>4)&3], ws, true
	}
	return 0, 0, false
}

// sendCookie answers a SYN with a cookie SYN-ACK (tcp_v4_send_synack
// with cookie_v4_init_sequence).
func (l *Listener) sendCookie(id fourTuple, seg header.TCP) {
	t := l.t
	o := seg.ParsedOptions()
	mss := o.MSS
	if mss == 0 {
		mss = defaultMSS
	}
	mss = min(mss, uint16(t.mssFor(id)))
	cookie := t.makeCookie(id, seg.Seq(), mss, o.WScale)
	f := header.TCPFields{SrcPort: id.lport, DstPort: id.rport, Seq: cookie, Ack: seg.Seq() + 1,
		Flags: header.TCPFlagSYN | header.TCPFlagACK, Window: uint16(min(t.cfg.RcvBuf, maxWindow)),
		MSS: uint16(t.mssFor(id)), WScale: -1}
	if o.WScale >= 0 {
		f.WScale = int(t.rcvScale())
	}
	t.lastOverflow.Store(t.clock.Now().Unix())
	t.Ext.SyncookiesSent.Add(1)
	t.send(id, f, nil)
}

// cookieACK completes a handshake from a cookie (cookie_v4_check): the
// connection is made in SYN-RECEIVED and the ACK processed as if its SYN
// had been queued. It reports false if the ACK carries no valid cookie.
func (l *Listener) cookieACK(id fourTuple, seg header.TCP) bool {
	t := l.t
	mss, ws, ok := t.checkCookie(id, seg.Seq()-1, seg.Ack()-1)
	if !ok {
		if t.clock.Now().Unix()-t.lastOverflow.Load() < 2*cookieStep {
			t.Ext.SyncookiesFailed.Add(1)
		}
		return false
	}
	l.mu.Lock()
	if l.closed || len(l.queue) >= l.backlog {
		l.mu.Unlock()
		t.Ext.ListenOverflows.Add(1)
		t.Ext.ListenDrops.Add(1)
		return true // dropped: the peer retransmits
	}
	l.halfOpen++
	l.mu.Unlock()
	t.Ext.SyncookiesRecv.Add(1)
	c := newConn(t, id)
	c.iss = seg.Ack() - 1
	c.sndUna, c.sndNxt, c.sndMax = c.iss, c.iss+1, c.iss+1
	c.irs, c.rcvNxt = seg.Seq()-1, seg.Seq()
	c.mss = max(min(int(mss), c.ourMSS()), 64)
	c.setupCapsLocked()
	if ws >= 0 {
		c.wsOK, c.sndScale, c.rcvScale = true, uint8(ws), t.rcvScale()
	}
	c.cwnd, c.ssthresh = 10*c.mss, 1<<30
	c.cc.init(c)
	c.lastWnd = uint32(min(t.cfg.RcvBuf, maxWindow))
	c.sndWL1, c.sndWL2 = seg.Seq(), c.iss
	c.setStateLocked(SynRcvd)
	c.listener = l
	t.mu.Lock()
	if _, dup := t.conns[id]; dup {
		t.mu.Unlock()
		l.dropHalfOpen()
		return true
	}
	t.conns[id] = c
	t.mu.Unlock()
	c.input(seg, 1, nil)
	return true
}
