package server

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
)

// sendfileChunkBytes bounds the count of one sendfile(2) call, which must
// fit an int32; a full socket ends a call sooner anyway.
const sendfileChunkBytes = 1 << 30

// sentFileBytes counts the bytes sendFile has sent, over all connections,
// so tests can tell which path a response took.
var sentFileBytes atomic.Int64

// errFileShort means a file ended before the section to send did: it was
// cut short after the response was built.
var errFileShort = errors.New("file shorter than the section to send")

// sendFile sends size bytes of f from pos to the socket with sendfile(2):
// the bytes go from the page cache to the socket without passing through
// the broker's memory. The offset is given explicitly, so neither the
// file's shared position nor any other reader of the file is involved.
// On an error part of the bytes may have been sent.
//
// Go's (*net.TCPConn).ReadFrom also uses sendfile, but from the file's
// current position, which every fetch of the segment shares.
func sendFile(dst syscall.RawConn, f *os.File, pos, size int64) error {
	src, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	ctlErr := src.Control(func(srcFD uintptr) {
		// Control holds f open until this returns, whoever closes it.
		writeErr := dst.Write(func(dstFD uintptr) bool {
			for size > 0 {
				n, err := syscall.Sendfile(int(dstFD), int(srcFD), &pos, int(min(size, sendfileChunkBytes)))
				if n > 0 {
					size -= int64(n)
					sentFileBytes.Add(int64(n))
				}
				switch {
				case err == syscall.EAGAIN:
					return false // wait until the socket can take more
				case err == syscall.EINTR:
				case err != nil:
					sendErr = fmt.Errorf("sendfile %s at %d: %w", f.Name(), pos, err)
					return true
				case n == 0:
					sendErr = fmt.Errorf("sendfile %s at %d, %d bytes to go: %w", f.Name(), pos, size, errFileShort)
					return true
				}
			}
			return true
		})
		if sendErr == nil {
			sendErr = writeErr
		}
	})
	if ctlErr != nil {
		return ctlErr
	}
	return sendErr
}
