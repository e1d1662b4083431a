package auth

import "net"

// netPipe is a connected pair of loopback TCP connections; unlike
// net.Pipe their writes are buffered, as TLS's handshake needs.
func netPipe() (net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	server, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	return client, server
}
