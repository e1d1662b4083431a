package config

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Roles are the KRaft roles this node plays.
type Roles struct {
	Broker, Controller bool
}

// Roles returns process.roles; unset means both, on one node.
func (b *Broker) Roles() Roles {
	roles := b.List("process.roles")
	if len(roles) == 0 {
		return Roles{Broker: true, Controller: true}
	}
	return Roles{Broker: slices.Contains(roles, "broker"), Controller: slices.Contains(roles, "controller")}
}

// Voters returns controller.quorum.voters as node id -> host:port. Empty
// means a quorum of this node alone.
func (b *Broker) Voters() map[int32]string {
	voters, err := parseVoters(b.List("controller.quorum.voters"))
	if err != nil {
		panic("config: validated controller.quorum.voters does not parse: " + err.Error())
	}
	return voters
}

// ControllerListener returns the first listener named in
// controller.listener.names, if listeners has one.
func (b *Broker) ControllerListener() (Listener, bool) {
	names := b.List("controller.listener.names")
	for _, l := range b.listeners {
		if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, l.Name) }) {
			return l, true
		}
	}
	return Listener{}, false
}

// IsControllerListener reports whether l is named in
// controller.listener.names.
func (b *Broker) IsControllerListener(l Listener) bool {
	return slices.ContainsFunc(b.List("controller.listener.names"), func(n string) bool { return strings.EqualFold(n, l.Name) })
}

// parseVoters parses id@host:port entries.
func parseVoters(entries []string) (map[int32]string, error) {
	voters := map[int32]string{}
	for _, e := range entries {
		idText, addr, ok := strings.Cut(e, "@")
		id, err := strconv.ParseInt(idText, 10, 32)
		if !ok || err != nil || id < 0 {
			return nil, fmt.Errorf("controller.quorum.voters entry %q is not id@host:port", e)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("controller.quorum.voters entry %q is not id@host:port", e)
		}
		if _, dup := voters[int32(id)]; dup {
			return nil, fmt.Errorf("controller.quorum.voters has a duplicate voter id %d", id)
		}
		voters[int32(id)] = addr
	}
	return voters, nil
}

// checkQuorum validates the KRaft settings together, so a misconfigured
// quorum is one clear sentence at start-up rather than a node that waits
// forever for peers that cannot answer.
func (b *Broker) checkQuorum() error {
	voters, err := parseVoters(b.List("controller.quorum.voters"))
	if err != nil {
		return err
	}
	roles, id := b.Roles(), b.NodeID()
	if !roles.Broker && !roles.Controller {
		return fmt.Errorf("process.roles must name broker, controller or both")
	}
	if len(voters) == 0 {
		if !roles.Controller || !roles.Broker {
			return fmt.Errorf("process.roles=%s needs controller.quorum.voters; a node alone is both broker and controller",
				strings.Join(b.List("process.roles"), ","))
		}
		return nil
	}
	_, voter := voters[id]
	switch {
	case roles.Controller && !voter:
		return fmt.Errorf("node.id %d is not one of the controller.quorum.voters (%s)", id, joinIDs(voters))
	case !roles.Controller && voter:
		return fmt.Errorf("node.id %d is one of the controller.quorum.voters (%s) but process.roles has no controller", id, joinIDs(voters))
	case !roles.Controller:
		return nil // a broker observes the quorum; it needs no controller listener
	}
	if !roles.Broker {
		for _, l := range b.listeners {
			if !b.IsControllerListener(l) {
				return fmt.Errorf("a controller-only node (process.roles=controller) takes no client listener, but listeners has %s", l.Name)
			}
		}
	}
	if _, ok := b.ControllerListener(); !ok {
		return fmt.Errorf("node %d is a controller voter, so listeners needs the listener named by controller.listener.names (%s)",
			id, strings.Join(b.List("controller.listener.names"), ","))
	}
	return nil
}

func joinIDs(voters map[int32]string) string {
	var s []string
	for _, id := range slices.Sorted(maps.Keys(voters)) {
		s = append(s, strconv.Itoa(int(id)))
	}
	return strings.Join(s, ", ")
}
