package tcp

// HoldConn takes c as a goroutine inside Read or Write does, and returns
// the function that lets go (tests of the backlog).
func HoldConn(c *Conn) (release func()) {
	c.mu.Lock()
	return c.unlock
}
