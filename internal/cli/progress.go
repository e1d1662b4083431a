// The produce progress bar: drawn on standard error only when it is a
// terminal, and only once a run has lasted long enough to be worth
// watching, so pipes and short runs print nothing extra.

package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	progressDelay    = time.Second            // runs shorter than this draw nothing
	progressInterval = 200 * time.Millisecond // redraw rate
	progressBarWidth = 30                     // characters between the brackets
)

// progressBar redraws one status line until stop.
type progressBar struct {
	done    chan struct{}
	stopped sync.WaitGroup
}

// startProgress starts the bar when enabled and w is a terminal; the bar
// shows a percentage when the input is a regular file of known size.
func startProgress(w io.Writer, in *countingReader, acked *atomic.Int64, enabled bool) *progressBar {
	p := &progressBar{done: make(chan struct{})}
	if !enabled || !isTerminal(w) {
		return p
	}
	total := int64(-1)
	if f, ok := in.r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			total = fi.Size()
		}
	}
	p.stopped.Add(1)
	go func() {
		defer p.stopped.Done()
		start := time.Now()
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		drawn := false
		for {
			select {
			case <-p.done:
				if drawn {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case now := <-tick.C:
				if now.Sub(start) < progressDelay {
					continue
				}
				drawn = true
				fmt.Fprint(w, "\r\033[K"+progressLine(in.total.Load(), total, acked.Load(), now.Sub(start)))
			}
		}
	}()
	return p
}

// stop erases the bar and waits for its goroutine.
func (p *progressBar) stop() {
	close(p.done)
	p.stopped.Wait()
}

// progressLine renders e.g. "[=====>      ]  45%  12034 records  3.1 MiB/s".
func progressLine(read, total, records int64, elapsed time.Duration) string {
	rate := humanBytes(int64(float64(read)/max(elapsed.Seconds(), 0.001))) + "/s"
	if total <= 0 {
		return fmt.Sprintf("%d records  %s read  %s", records, humanBytes(read), rate)
	}
	fraction := min(float64(read)/float64(total), 1)
	filled := int(fraction * progressBarWidth)
	bar := strings.Repeat("=", filled)
	if filled < progressBarWidth {
		bar += ">" + strings.Repeat(" ", progressBarWidth-filled-1)
	}
	return fmt.Sprintf("[%s] %3.0f%%  %d records  %s", bar, fraction*100, records, rate)
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
