package server

import (
	"net"
	"strconv"
	"time"
)

// refusedLogInterval bounds how often refused connections are logged: a
// client reconnecting in a loop must not flood the log.
const refusedLogInterval = 10 * time.Second

// remoteIP is the IP address a connection comes from, the key of the
// per-IP limits.
func remoteIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// perIPMax is the most connections ip may keep open: its override, else
// max.connections.per.ip; -1 is no limit.
func (s *Server) perIPMax(ip string) int {
	if n, ok := s.cfg.ConnectionsPerIPOverrides[ip]; ok {
		return n
	}
	if s.cfg.ConnectionsPerIPMax > 0 {
		return s.cfg.ConnectionsPerIPMax
	}
	return -1
}

// refuseLocked returns the name of the limit a new connection from ip
// would pass, "" if none, counting and (at most every
// refusedLogInterval) logging a refusal. REQUIRES: s.mu.
func (s *Server) refuseLocked(ip string) string {
	limit, value := "", 0
	if m := s.cfg.ConnectionsMax; m > 0 && len(s.conns) >= m {
		limit, value = "max.connections", m
	} else if m := s.perIPMax(ip); m >= 0 && s.perIP[ip] >= m {
		limit, value = "max.connections.per.ip", m
		if _, ok := s.cfg.ConnectionsPerIPOverrides[ip]; ok {
			limit = "max.connections.per.ip.overrides"
		}
	}
	if limit == "" {
		return ""
	}
	s.cfg.Metrics.ConnectionRefused()
	if now := time.Now(); now.Sub(s.refusedLogged) >= refusedLogInterval {
		s.refusedLogged = now
		s.logger.Warn("refusing connections: "+limit+" reached (logged at most every "+refusedLogInterval.String()+")",
			"remote", ip, "limit", limit, "value", strconv.Itoa(value), "open", len(s.conns))
	}
	return limit
}

// overridesByIP keys max.connections.per.ip.overrides by IP address as
// remoteIP spells it: IPs are put in canonical form and host names
// resolved once, now, as Kafka resolves them when the config is read. A
// name that does not resolve is logged and skipped.
func overridesByIP(overrides map[string]int, logger interface {
	Warn(msg string, args ...any)
}) map[string]int {
	out := make(map[string]int, len(overrides))
	for host, n := range overrides {
		if ip := net.ParseIP(host); ip != nil {
			out[ip.String()] = n
			continue
		}
		ips, err := net.LookupIP(host)
		if err != nil {
			logger.Warn("max.connections.per.ip.overrides: cannot resolve host; its override is ignored", "host", host, "err", err)
			continue
		}
		for _, ip := range ips {
			out[ip.String()] = n
		}
	}
	return out
}
