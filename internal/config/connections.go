package config

import (
	"fmt"
	"strconv"
	"strings"
)

// ConnectionsPerIPOverrides parses max.connections.per.ip.overrides:
// host:count pairs separated by commas, a host being an IP address or a
// name (resolved by whoever enforces it). Kafka's syntax; an IPv6 address
// keeps its colons, the count follows the last one.
func ConnectionsPerIPOverrides(value string) (map[string]int, error) {
	out := map[string]int{}
	for _, item := range strings.Split(value, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.LastIndexByte(item, ':')
		if i <= 0 {
			return nil, fmt.Errorf("max.connections.per.ip.overrides: %q is not host:count", item)
		}
		host := strings.Trim(strings.TrimSpace(item[:i]), "[]")
		n, err := strconv.Atoi(strings.TrimSpace(item[i+1:]))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("max.connections.per.ip.overrides: %q: the count must be a non-negative integer", item)
		}
		out[host] = n
	}
	return out, nil
}

func checkConnectionsPerIPOverrides(value string) error {
	_, err := ConnectionsPerIPOverrides(value)
	return err
}
