package testutil

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeBroker answers each ApiVersions request it reads with a response
// carrying the request's correlation id, echoing the header bytes it saw
// on seen, and closes the connection on anything else.
func fakeBroker(t *testing.T, seen chan<- []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for {
			var size [4]byte
			if _, err := io.ReadFull(c, size[:]); err != nil {
				return
			}
			body := make([]byte, binary.BigEndian.Uint32(size[:]))
			if _, err := io.ReadFull(c, body); err != nil {
				return
			}
			seen <- body
			if len(body) < 8 || int16(binary.BigEndian.Uint16(body)) != kmsg.ApiVersions.Int16() {
				return
			}
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.SetVersion(int16(binary.BigEndian.Uint16(body[2:])))
			resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: 18, MaxVersion: 3}}
			frame := binary.BigEndian.AppendUint32(nil, 0)
			frame = append(frame, body[4:8]...) // correlation id
			frame = resp.AppendTo(frame)
			binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
			if _, err := c.Write(frame); err != nil {
				return
			}
		}
	}()
	return ln.Addr().String()
}

func TestConnRoundTrip(t *testing.T) {
	seen := make(chan []byte, 8)
	c := Dial(t, fakeBroker(t, seen))
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "x", "1"
	for i := range 3 {
		resp, err := c.Request(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if keys := resp.(*kmsg.ApiVersionsResponse).ApiKeys; len(keys) != 1 || keys[0].MaxVersion != 3 {
			t.Fatalf("request %d: keys %+v", i, keys)
		}
		// Header v2: key, version, correlation id, client id, no tags.
		want := RequestHeader(kmsg.ApiVersions.Int16(), 3, int32(i), Str(DefaultClientID), true)
		if got := <-seen; !bytes.HasPrefix(got, want) {
			t.Fatalf("request %d header % x, want % x", i, got[:min(len(got), len(want))], want)
		}
	}
	c.ClientID = nil
	c.RoundTrip(req, 77)
	if got, want := <-seen, RequestHeader(kmsg.ApiVersions.Int16(), 3, 77, nil, true); !bytes.HasPrefix(got, want) {
		t.Fatalf("header with a null client id % x, want % x", got[:min(len(got), len(want))], want)
	}
	// Anything else makes the fake hang up.
	if err := c.WriteFrame([]byte{0, 3, 0, 0}); err != nil {
		t.Fatal(err)
	}
	<-seen
	c.ExpectClosed()
}

func TestDecodeResponseWantsEmptyTags(t *testing.T) {
	resp := kmsg.NewPtrMetadataResponse()
	resp.SetVersion(9) // flexible: the header has a tag section
	body := resp.AppendTo(nil)
	if _, err := DecodeResponse(kmsg.Metadata.Int16(), 9, append([]byte{0}, body...)); err != nil {
		t.Fatalf("empty tag section: %v", err)
	}
	if _, err := DecodeResponse(kmsg.Metadata.Int16(), 9, append([]byte{1, 0, 0}, body...)); err == nil {
		t.Fatal("a response header with a tag decoded; the broker writes none")
	}
	if _, err := DecodeResponse(kmsg.Metadata.Int16(), 9, body[:len(body)-1]); err == nil {
		t.Fatal("a truncated response decoded")
	}
}
