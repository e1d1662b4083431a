package auth

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/internal/config"
)

// Mechanism is the server side of one SASL mechanism on one listener.
type Mechanism interface {
	// Name is the mechanism's IANA name, e.g. PLAIN.
	Name() string
	// Start begins one client's exchange.
	Start() Exchange
}

// Exchange is one client's run of a mechanism. The server feeds it the
// client's tokens in order until it is done or fails; it is used by one
// goroutine at a time.
type Exchange interface {
	// Step takes the client's next token and returns the server's
	// answer. done is true once the client has authenticated; an error
	// (wrapping kerr.SaslAuthenticationFailed when the client's
	// credentials or messages are at fault) ends the exchange.
	Step(token []byte) (challenge []byte, done bool, err error)
	// User is the name the client authenticated as, once done.
	User() string
}

// SASL is what one SASL listener offers: its enabled mechanisms, in the
// order sasl.enabled.mechanisms lists them.
type SASL struct {
	names      []string
	mechanisms map[string]Mechanism
}

// NewSASL returns a SASL with mechs enabled, in that order.
func NewSASL(mechs ...Mechanism) *SASL {
	s := &SASL{mechanisms: map[string]Mechanism{}}
	for _, m := range mechs {
		s.names = append(s.names, m.Name())
		s.mechanisms[m.Name()] = m
	}
	return s
}

// Mechanisms lists the enabled mechanisms, as SaslHandshake answers.
func (s *SASL) Mechanisms() []string { return slices.Clone(s.names) }

// Mechanism returns the enabled mechanism called name.
func (s *SASL) Mechanism(name string) (Mechanism, bool) {
	m, ok := s.mechanisms[name]
	return m, ok
}

// mechanismPlain is PLAIN's name, and plainLoginModule the JAAS login
// module Kafka's PLAIN users are configured with.
const (
	mechanismPlain   = "PLAIN"
	plainLoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule"
)

// saslFromConfig builds the SASL of listener from sasl.enabled.mechanisms
// (or its listener override) and the mechanisms' JAAS keys; SCRAM users
// are found with scram.
func saslFromConfig(cfg *config.Broker, listener string, scram ScramLookup) (*SASL, error) {
	key := "sasl.enabled.mechanisms"
	enabled := cfg.ListenerList(listener, key)
	if len(enabled) == 0 {
		return nil, fmt.Errorf("listener %s uses SASL but %s is empty", listener, key)
	}
	var mechs []Mechanism
	for _, name := range enabled {
		switch strings.ToUpper(name) {
		case mechanismPlain:
			m, err := plainFromConfig(cfg, listener)
			if err != nil {
				return nil, err
			}
			mechs = append(mechs, m)
		case MechanismScramSHA256, MechanismScramSHA512:
			m, err := scramFromConfig(cfg, listener, strings.ToUpper(name), scram)
			if err != nil {
				return nil, err
			}
			mechs = append(mechs, m)
		default:
			return nil, fmt.Errorf("listener %s: SASL mechanism %s in %s is not supported yet; Sluice serves PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (set %s=PLAIN)",
				listener, name, key, config.ListenerKey(listener, key))
		}
	}
	return NewSASL(mechs...), nil
}

// plainFromConfig reads PLAIN's users from
// listener.name.<listener>.plain.sasl.jaas.config.
func plainFromConfig(cfg *config.Broker, listener string) (*Plain, error) {
	key := config.ListenerKey(listener, "plain.sasl.jaas.config")
	text := cfg.JAASConfig(listener, mechanismPlain)
	if text == "" {
		return nil, fmt.Errorf("listener %s enables SASL PLAIN but %s is not set (Kafka's brokers read no other JAAS key)", listener, key)
	}
	m, err := ParseJAAS(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if m.Class != plainLoginModule {
		return nil, fmt.Errorf("%s: login module %s is not %s", key, m.Class, plainLoginModule)
	}
	p, err := PlainFromJAAS(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return p, nil
}

// scramFromConfig checks listener.name.<listener>.<mechanism>.sasl.jaas.config
// names Kafka's ScramLoginModule, as Kafka's brokers require, and returns
// the mechanism over the broker's SCRAM credentials.
func scramFromConfig(cfg *config.Broker, listener, name string, scram ScramLookup) (*Scram, error) {
	key := config.ListenerKey(listener, strings.ToLower(name)+".sasl.jaas.config")
	text := cfg.JAASConfig(listener, name)
	if text == "" {
		return nil, fmt.Errorf("listener %s enables SASL %s but %s is not set (set it to %q)", listener, name, key, scramLoginModule+" required;")
	}
	m, err := ParseJAAS(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if m.Class != scramLoginModule {
		return nil, fmt.Errorf("%s: login module %s is not %s", key, m.Class, scramLoginModule)
	}
	return NewScram(name, scram)
}
