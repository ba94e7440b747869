package clock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestFake(t *testing.T) {
	start := time.Unix(1000, 0)
	c := NewFake(start)
	var got []string
	at := func(name string) func() {
		return func() { got = append(got, name+"@"+c.Now().Sub(start).String()) }
	}
	c.AfterFunc(3*time.Second, at("c"))
	b := c.AfterFunc(2*time.Second, at("b"))
	c.AfterFunc(time.Second, at("a"))
	stopped := c.AfterFunc(time.Second, at("never"))
	assert.True(t, stopped.Stop())
	assert.False(t, stopped.Stop(), "already stopped")
	c.AfterFunc(time.Second, func() { // a timer that arms another
		c.AfterFunc(500*time.Millisecond, at("chained"))
	})

	c.Advance(1500 * time.Millisecond)
	assert.Equal(t, []string{"a@1s", "chained@1.5s"}, got)
	assert.Equal(t, start.Add(1500*time.Millisecond), c.Now())

	assert.True(t, b.Reset(time.Second), "b was armed: re-armed from now, at 2.5s")
	d, ok := c.AdvanceToNext()
	assert.True(t, ok)
	assert.Equal(t, time.Second, d)
	assert.Equal(t, []string{"a@1s", "chained@1.5s", "b@2.5s"}, got)
	c.Advance(time.Hour)
	assert.Equal(t, []string{"a@1s", "chained@1.5s", "b@2.5s", "c@3s"}, got)
	_, ok = c.AdvanceToNext()
	assert.False(t, ok)
	assert.Zero(t, c.Pending())
}
