package config

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// listenersMax bounds the entries of a listener list; a broker has a
// handful (client, controller, replication), never hundreds.
const listenersMax = 64

// Listener is one NAME://host:port entry of listeners or
// advertised.listeners. Name is upper-cased, as Kafka normalizes listener
// names. Host is empty for all interfaces and has no brackets for IPv6.
type Listener struct {
	Name string
	Host string
	Port int
}

// String formats l the way it is written in a config.
func (l Listener) String() string {
	return l.Name + "://" + l.Addr()
}

// Addr is l's host:port, ready for net.Listen or a Metadata response.
func (l Listener) Addr() string {
	return net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
}

// ParseListeners parses a comma separated list such as
// "PLAINTEXT://127.0.0.1:9092,CONTROLLER://:9093". The host may be empty,
// a name, an IPv4 address or a bracketed IPv6 address; port 0 asks the
// system for a free port. Names must be unique. An empty string is the
// empty list.
func ParseListeners(s string) ([]Listener, error) {
	items := splitList(s)
	if len(items) > listenersMax {
		return nil, fmt.Errorf("%d listeners is more than the limit of %d", len(items), listenersMax)
	}
	listeners := make([]Listener, 0, len(items))
	seen := make(map[string]bool, len(items))
	for _, item := range items {
		l, err := parseListener(item)
		if err != nil {
			return nil, err
		}
		if seen[l.Name] {
			return nil, fmt.Errorf("listener name %s is used twice", l.Name)
		}
		seen[l.Name] = true
		listeners = append(listeners, l)
	}
	return listeners, nil
}

func parseListener(item string) (Listener, error) {
	name, hostPort, ok := strings.Cut(item, "://")
	if !ok {
		return Listener{}, fmt.Errorf("listener %q is not of the form NAME://host:port", item)
	}
	if !isListenerName(name) {
		return Listener{}, fmt.Errorf("listener %q has a bad name; use letters, digits, _ and -", item)
	}
	host, port, err := parseHostPort(hostPort)
	if err != nil {
		return Listener{}, fmt.Errorf("listener %q: %v", item, err)
	}
	return Listener{Name: strings.ToUpper(name), Host: host, Port: port}, nil
}

func isListenerName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// parseHostPort splits "host:port", "[v6]:port" or ":port". An IPv6 address
// must be bracketed so that its colons cannot be mistaken for the port's.
func parseHostPort(hostPort string) (string, int, error) {
	host, portText, err := net.SplitHostPort(hostPort)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port", hostPort)
	}
	if strings.HasPrefix(hostPort, "[") {
		if addr, err := netip.ParseAddr(host); err != nil || !addr.Is6() {
			return "", 0, fmt.Errorf("%q in brackets is not an IPv6 address", host)
		}
	} else if !isHostName(host) {
		return "", 0, fmt.Errorf("%q is not a host name or address", host)
	}
	port, err := parsePort(portText)
	if err != nil {
		return "", 0, err
	}
	return host, port, nil
}

// isHostName accepts the characters of host names and IPv4 addresses, and
// the empty host (all interfaces).
func isHostName(host string) bool {
	for _, c := range host {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// parsePort accepts only decimal digits, so "+1" or " 1" are not ports.
func parsePort(text string) (int, error) {
	const digitsMax = 5 // "65535"
	if text == "" || len(text) > digitsMax || strings.TrimLeft(text, "0123456789") != "" {
		return 0, fmt.Errorf("port %q is not a number from 0 to 65535", text)
	}
	port, _ := strconv.Atoi(text)
	if port > 65535 {
		return 0, fmt.Errorf("port %d is above 65535", port)
	}
	return port, nil
}

// checkListeners is Def.check for listeners: at least one, well formed.
func checkListeners(value string) error {
	listeners, err := ParseListeners(value)
	if err != nil {
		return &Error{Key: "listeners", Reason: err.Error()}
	}
	if len(listeners) == 0 {
		return &Error{Key: "listeners", Reason: "at least one listener is required"}
	}
	return nil
}

// checkAdvertisedListeners is Def.check for advertised.listeners. Clients
// cannot connect to the wildcard address, so Kafka refuses to publish it.
func checkAdvertisedListeners(value string) error {
	listeners, err := ParseListeners(value)
	if err != nil {
		return &Error{Key: "advertised.listeners", Reason: err.Error()}
	}
	for _, l := range listeners {
		if ip := net.ParseIP(l.Host); ip != nil && ip.IsUnspecified() {
			return &Error{Key: "advertised.listeners",
				Reason: fmt.Sprintf("listener %s advertises the unroutable address %s", l.Name, l.Host)}
		}
	}
	return nil
}

// securityProtocols are the protocols a listener name may map to.
var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

// checkSecurityProtocolMap is Def.check for listener.security.protocol.map.
func checkSecurityProtocolMap(value string) error {
	_, err := parseSecurityProtocolMap(value)
	return err
}

// parseSecurityProtocolMap parses "NAME:PROTOCOL,..." into a map keyed by
// upper-cased listener name.
func parseSecurityProtocolMap(value string) (map[string]string, error) {
	const key = "listener.security.protocol.map"
	protocols := map[string]string{}
	for _, pair := range splitList(value) {
		name, protocol, ok := strings.Cut(pair, ":")
		name, protocol = strings.TrimSpace(name), strings.TrimSpace(protocol)
		if !ok || !isListenerName(name) {
			return nil, &Error{Key: key, Reason: fmt.Sprintf("%q is not of the form NAME:PROTOCOL", pair)}
		}
		if !slices.Contains(securityProtocols, protocol) {
			return nil, &Error{Key: key, Reason: fmt.Sprintf("%q is not one of %s",
				protocol, strings.Join(securityProtocols, ", "))}
		}
		protocols[strings.ToUpper(name)] = protocol
	}
	return protocols, nil
}

// checkHTTPListeners is Def.check for http.listeners: host:port entries.
func checkHTTPListeners(value string) error {
	items := splitList(value)
	if len(items) > listenersMax {
		return &Error{Key: "http.listeners",
			Reason: fmt.Sprintf("%d listeners is more than the limit of %d", len(items), listenersMax)}
	}
	for _, item := range items {
		if _, _, err := parseHostPort(item); err != nil {
			return &Error{Key: "http.listeners", Reason: err.Error()}
		}
	}
	return nil
}
