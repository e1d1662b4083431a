package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// property is one key and value of a properties file. Line is where its
// logical line starts, counting from 1, for error messages.
type property struct {
	Key   string
	Value string
	Line  int
}

// parseProperties parses Java .properties text. It follows
// java.util.Properties.load (comments, separators, continuation, escapes)
// with two differences: the text is UTF-8, and trailing unescaped
// whitespace is trimmed from values, as operators expect. The only error is
// a malformed \uXXXX escape. Later duplicates are kept; the caller applies
// them in order, so the last one wins as in Java.
func parseProperties(data string) ([]property, error) {
	var props []property
	lineNumber := 0
	for data != "" {
		var natural string
		natural, data = nextLine(data)
		lineNumber++
		text := trimLeadingSpace(natural)
		if text == "" || text[0] == '#' || text[0] == '!' {
			continue // comments do not continue onto the next line, as in Java
		}
		start := lineNumber
		logical := text
		if continues(text) {
			var consumed int
			logical, data, consumed = joinContinuation(text, data)
			lineNumber += consumed
		}
		p, err := splitProperty(logical)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		p.Line = start
		props = append(props, p)
	}
	return props, nil
}

// joinContinuation joins first, which ends in a continuation backslash,
// with the lines that continue it. It returns the logical line, the
// remaining data and how many lines it consumed. A builder keeps a file of
// many continued lines linear rather than quadratic.
func joinContinuation(first, data string) (logical, rest string, consumed int) {
	var b strings.Builder
	piece := first
	for continues(piece) {
		b.WriteString(piece[:len(piece)-1])
		if data == "" {
			// A backslash at the very end is dropped, as Java does.
			return b.String(), data, consumed
		}
		var natural string
		natural, data = nextLine(data)
		consumed++
		piece = trimLeadingSpace(natural)
	}
	b.WriteString(piece)
	return b.String(), data, consumed
}

// nextLine splits off one natural line; "\n", "\r" and "\r\n" end a line.
func nextLine(data string) (line, rest string) {
	i := strings.IndexAny(data, "\r\n")
	if i < 0 {
		return data, ""
	}
	line, rest = data[:i], data[i+1:]
	if data[i] == '\r' && strings.HasPrefix(rest, "\n") {
		rest = rest[1:]
	}
	return line, rest
}

func isPropertySpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimLeadingSpace(s string) string {
	i := 0
	for i < len(s) && isPropertySpace(s[i]) {
		i++
	}
	return s[i:]
}

// continues reports whether line ends in an odd number of backslashes, the
// last of which escapes the line end. Only backslashes of this natural line
// count, as in Java.
func continues(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitProperty splits a logical line at the first unescaped '=', ':' or
// whitespace; whitespace around the separator is skipped, and one '=' or
// ':' may follow whitespace ("key = value").
func splitProperty(line string) (property, error) {
	keyEnd, valueStart := len(line), len(line)
	hasSeparator := false
	escaped := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if escaped {
			escaped = false
			continue
		}
		if c == '\\' {
			escaped = true
			continue
		}
		if c == '=' || c == ':' || isPropertySpace(c) {
			keyEnd, valueStart = i, i+1
			hasSeparator = c == '=' || c == ':'
			break
		}
	}
	for valueStart < len(line) && isPropertySpace(line[valueStart]) {
		valueStart++
	}
	if !hasSeparator && valueStart < len(line) && (line[valueStart] == '=' || line[valueStart] == ':') {
		valueStart++
		for valueStart < len(line) && isPropertySpace(line[valueStart]) {
			valueStart++
		}
	}
	key, err := unescapeProperty(line[:keyEnd])
	if err != nil {
		return property{}, err
	}
	value, err := unescapeProperty(trimTrailingSpace(line[valueStart:]))
	if err != nil {
		return property{}, err
	}
	return property{Key: key, Value: value}, nil
}

// trimTrailingSpace trims whitespace from the end of s unless a backslash
// escapes it: "a\ " keeps its space.
func trimTrailingSpace(s string) string {
	for len(s) > 0 && isPropertySpace(s[len(s)-1]) {
		backslashes := 0
		for i := len(s) - 2; i >= 0 && s[i] == '\\'; i-- {
			backslashes++
		}
		if backslashes%2 == 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// unescapeProperty resolves Java's escapes: \t \n \r \f, \uXXXX (with
// surrogate pairs), and \x for any other x. A lone trailing backslash is
// dropped.
func unescapeProperty(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		i++
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i == len(s) {
			break
		}
		c = s[i]
		i++
		switch c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, n, err := decodeUnicodeEscape(s[i:])
			if err != nil {
				return "", err
			}
			b.WriteRune(r)
			i += n
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// decodeUnicodeEscape decodes the XXXX after `\u` and, when it is a high
// surrogate followed by `\uXXXX` with the low one, the pair. It returns the
// rune and the bytes consumed. A lone surrogate becomes U+FFFD.
func decodeUnicodeEscape(s string) (rune, int, error) {
	r, err := hex4(s)
	if err != nil {
		return 0, 0, err
	}
	if utf16.IsSurrogate(r) && len(s) >= 10 && s[4:6] == `\u` {
		if low, err := hex4(s[6:]); err == nil {
			if pair := utf16.DecodeRune(r, low); pair != '\uFFFD' {
				return pair, 10, nil
			}
		}
	}
	return r, 4, nil
}

func hex4(s string) (rune, error) {
	if len(s) < 4 {
		return 0, fmt.Errorf(`malformed \uXXXX escape %q`, `\u`+s)
	}
	n, err := strconv.ParseUint(s[:4], 16, 16)
	if err != nil {
		return 0, fmt.Errorf(`malformed \uXXXX escape %q`, `\u`+s[:4])
	}
	return rune(n), nil
}
