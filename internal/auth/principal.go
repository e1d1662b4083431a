package auth

import (
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// principalRulesMax bounds the rules of ssl.principal.mapping.rules.
const principalRulesMax = 100

// PrincipalMapper turns a client certificate's distinguished name into a
// principal name with Kafka's ssl.principal.mapping.rules: a comma
// separated list of DEFAULT (the name itself) and
// RULE:pattern/replacement/[LU] (a Java regular expression that must
// match the whole name, a replacement with $1-style group references, and
// an optional lower- or upper-casing). The first rule that matches
// decides; a name no rule matches cannot authenticate.
type PrincipalMapper struct {
	rules []principalRule
	text  string // as configured, for errors
}

// principalRule is one rule; a nil whole is DEFAULT.
type principalRule struct {
	whole       *regexp.Regexp // the pattern anchored at both ends
	pattern     *regexp.Regexp
	replacement string // in Go's Expand syntax
	toCase      string // "", "L" or "U"
}

// ruleSplitter finds one rule and the comma after it, as Kafka's
// SslPrincipalMapper splits them: backslash escapes inside a rule keep a
// '/' or ',' from ending it.
var ruleSplitter = regexp.MustCompile(`^\s*(DEFAULT|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?))\s*(?:,\s*|$)`)

// ParsePrincipalRules parses ssl.principal.mapping.rules.
func ParsePrincipalRules(text string) (*PrincipalMapper, error) {
	m := &PrincipalMapper{text: text}
	rest := strings.TrimSpace(text)
	if rest == "" {
		return nil, errors.New("ssl.principal.mapping.rules is empty; use DEFAULT")
	}
	for rest != "" {
		if len(m.rules) == principalRulesMax {
			return nil, fmt.Errorf("ssl.principal.mapping.rules: more than %d rules", principalRulesMax)
		}
		g := ruleSplitter.FindStringSubmatch(rest)
		if g == nil {
			return nil, fmt.Errorf("ssl.principal.mapping.rules: invalid rule at %q", rest)
		}
		rest = rest[len(g[0]):]
		if g[1] == "DEFAULT" {
			m.rules = append(m.rules, principalRule{})
			continue
		}
		r, err := newPrincipalRule(g[2], g[3], g[4])
		if err != nil {
			return nil, fmt.Errorf("ssl.principal.mapping.rules: %w", err)
		}
		m.rules = append(m.rules, r)
	}
	return m, nil
}

func newPrincipalRule(pattern, replacement, toCase string) (principalRule, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return principalRule{}, fmt.Errorf("pattern %q: %v", pattern, err)
	}
	whole, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return principalRule{}, fmt.Errorf("pattern %q: %v", pattern, err)
	}
	return principalRule{whole: whole, pattern: re, replacement: javaReplacement(replacement), toCase: toCase}, nil
}

// javaReplacement converts a Java replacement string ($1 for a group, a
// backslash before a character for the character) to Go's Expand
// syntax (${1}, $$ for a dollar).
func javaReplacement(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] == '$' {
				sb.WriteString("$$")
			} else {
				sb.WriteByte(s[i])
			}
		case c == '$':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i+1 {
				sb.WriteString("$$")
				continue
			}
			sb.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// Name maps a distinguished name; ok is false when no rule matches.
func (m *PrincipalMapper) Name(dn string) (string, bool) {
	for _, r := range m.rules {
		if r.whole == nil {
			return dn, true
		}
		if !r.whole.MatchString(dn) {
			continue
		}
		name := r.pattern.ReplaceAllString(dn, r.replacement)
		switch r.toCase {
		case "L":
			name = strings.ToLower(name)
		case "U":
			name = strings.ToUpper(name)
		}
		return name, true
	}
	return "", false
}

// CertificatePrincipal is the principal name of a client certificate on
// l: its distinguished name (CertificateName) mapped by
// ssl.principal.mapping.rules.
func (l *Listener) CertificatePrincipal(cert *x509.Certificate) (string, error) {
	dn := CertificateName(cert)
	if l.principals == nil {
		return dn, nil
	}
	name, ok := l.principals.Name(dn)
	if !ok {
		return "", fmt.Errorf("no ssl.principal.mapping.rules apply to %q (rules %q)", dn, l.principals.text)
	}
	return name, nil
}
