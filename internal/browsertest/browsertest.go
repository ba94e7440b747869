// Package browsertest loads a web page in a real browser — headless
// Chromium, Debian's chromium package, driven over the DevTools protocol
// by chromedp — waits for the page to say it is ready, and reports what
// a person would have seen: the rendered text, values the test asks the
// page for, a screenshot, and every console error, uncaught exception
// and failed load.
package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Chromium is the browser's path; the test is skipped (failed under CI)
// without one.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" || os.Getenv("RINGO_REQUIRE_QEMU") == "1" {
		t.Fatal("no chromium: run scripts/setup.sh")
	}
	t.Skip("no chromium: run scripts/setup.sh")
	return ""
}

// Page is what the browser showed.
type Page struct {
	Text       string         // document.body.innerText
	Values     map[string]any // each expression the caller asked for, evaluated once ready
	Screenshot []byte         // PNG of the whole page
	Console    []string       // console errors and warnings, exceptions, failed loads
}

// Load opens url, waits until the JavaScript expression ready is true
// (at most timeout), evaluates exprs, and takes a screenshot.
func Load(t testing.TB, url, ready string, timeout time.Duration, exprs ...string) (*Page, error) {
	t.Helper()
	path := Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 1000), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()

	p := &Page{Values: map[string]any{}}
	var mu sync.Mutex
	// Subscribing starts the browser; the messages are collected while
	// the page runs and read at the end.
	messages := chromedp.Console(bctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
				mu.Lock()
				p.Console = append(p.Console, m.String())
				mu.Unlock()
			}
		}
	}()

	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		return nil, fmt.Errorf("browsertest: navigate %s: %w", url, err)
	}
	_, err := chromedp.Run(bctx, chromedp.Poll[bool](ready, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		return nil, fmt.Errorf("browsertest: %s: waiting for %s: %w", url, ready, err)
	}
	if p.Text, err = chromedp.Run(bctx, chromedp.Evaluate[string]("document.body.innerText")); err != nil {
		return nil, fmt.Errorf("browsertest: page text: %w", err)
	}
	for _, e := range exprs {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[any](e))
		if err != nil {
			return nil, fmt.Errorf("browsertest: evaluate %s: %w", e, err)
		}
		p.Values[e] = v
	}
	if p.Screenshot, err = chromedp.Run(bctx, chromedp.FullScreenshot(100)); err != nil {
		return nil, fmt.Errorf("browsertest: screenshot: %w", err)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	return p, nil
}

// CheckStatusPage loads the appliance's web page at url and checks what
// a browser showed: charts (packets, bits and drops per device,
// interrupts, softnet) that drew at least two updates from /status.json,
// tables with the devices, a screenshot with the charts' ink, and
// nothing on the console.
func CheckStatusPage(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	const (
		charts = "document.querySelectorAll('#charts canvas').length"
		drawn  = "Math.min.apply(null, Array.from(document.querySelectorAll('#charts canvas')).map(function (c) { return Number(c.dataset.points); }))"
	)
	page, err := Load(t, url, "Number(document.body.dataset.updates) >= 2", timeout, charts, drawn)
	require.NoError(t, err)
	assert.Empty(t, page.Console, "console errors")
	assert.GreaterOrEqual(t, page.Values[charts], 5.0, "packets, bits, drops per device; interrupts; softnet")
	assert.GreaterOrEqual(t, page.Values[drawn], 2.0, "every chart drew at least two updates")
	assert.Contains(t, page.Text, "ip -s link")
	assert.Contains(t, page.Text, "UP,LOWER_UP")
	assert.Contains(t, page.Text, "packets/s")
	img, err := png.Decode(bytes.NewReader(page.Screenshot))
	require.NoError(t, err)
	assert.Greater(t, Ink(img, 0x1f, 0x77, 0xb4), 20, "the screenshot shows the charts' first line colour")
}

// Ink counts the pixels of img close to one colour.
func Ink(img image.Image, r, g, b uint8) int {
	n := 0
	near := func(a uint32, want uint8) bool { d := int(a>>8) - int(want); return d > -24 && d < 24 }
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if near(cr, r) && near(cg, g) && near(cb, b) {
				n++
			}
		}
	}
	return n
}
