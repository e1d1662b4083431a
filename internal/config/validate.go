package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// valueBytesMax bounds one value. Topic overrides arrive from clients in
// CreateTopics and AlterConfigs, and a value is kept for the life of the
// topic; no real value comes near this.
const valueBytesMax = 32 << 10

// Sentinels for errors.Is: a handler answers both with INVALID_CONFIG but
// may word its message differently.
var (
	ErrUnknownKey   = errors.New("unknown config key")
	ErrInvalidValue = errors.New("invalid config value")
)

// Error is a problem with one key. Its message is one sentence that starts
// with the key, e.g. `log.segment.bytes: 10 is below the minimum 14`.
type Error struct {
	Key     string
	Reason  string
	Unknown bool // the key itself is unknown, rather than its value bad
}

func (e *Error) Error() string { return e.Key + ": " + e.Reason }

// Is makes errors.Is(err, ErrUnknownKey) and errors.Is(err, ErrInvalidValue)
// work through any wrapping.
func (e *Error) Is(target error) bool {
	return (target == ErrUnknownKey && e.Unknown) || (target == ErrInvalidValue && !e.Unknown)
}

func unknownKey(scope Scope, key string) error {
	return &Error{Key: key, Reason: "unknown " + scope.String() + " config", Unknown: true}
}

func (d *Def) invalid(format string, args ...any) error {
	return &Error{Key: d.Name, Reason: fmt.Sprintf(format, args...)}
}

// Validate reports whether value is acceptable for d. The error names the
// key and the allowed range or values.
func (d *Def) Validate(value string) error {
	_, err := d.normalize(value)
	return err
}

// normalize validates value and returns it in canonical form: numbers and
// booleans trimmed and reformatted, list elements trimmed and rejoined.
// Storing the canonical form means DescribeConfigs shows what the broker
// actually uses. "" stays "" for a Nullable key (null).
func (d *Def) normalize(value string) (string, error) {
	if len(value) > valueBytesMax {
		return "", d.invalid("a value of %d bytes is longer than the limit of %d bytes", len(value), valueBytesMax)
	}
	if d.Nullable && strings.TrimSpace(value) == "" {
		return "", nil
	}
	var norm string
	var err error
	switch d.Type {
	case TypeInt, TypeLong:
		norm, err = d.normalizeInteger(value)
	case TypeDouble:
		norm, err = d.normalizeDouble(value)
	case TypeBool:
		norm, err = d.normalizeBool(value)
	case TypeList:
		norm, err = d.normalizeList(value)
	case TypeString:
		// Kafka trims string values too; " CreateTime" is CreateTime.
		norm = strings.TrimSpace(value)
		err = d.checkEnum(norm)
	default:
		norm = value // a password is used exactly as given
	}
	if err == nil && d.check != nil {
		err = d.check(norm)
	}
	return norm, err
}

func (d *Def) normalizeInteger(value string) (string, error) {
	bits := 64
	if d.Type == TypeInt {
		bits = 32
	}
	text := strings.TrimSpace(value)
	n, err := strconv.ParseInt(text, 10, bits)
	if errors.Is(err, strconv.ErrRange) {
		return "", d.invalid("%s is outside the range of a %d-bit integer", text, bits)
	}
	if err != nil {
		return "", d.invalid("%q is not an integer", value)
	}
	if d.Min != nil && n < *d.Min {
		return "", d.invalid("%d is below the minimum %d", n, *d.Min)
	}
	if d.Max != nil && n > *d.Max {
		return "", d.invalid("%d is above the maximum %d", n, *d.Max)
	}
	return strconv.FormatInt(n, 10), nil
}

func (d *Def) normalizeDouble(value string) (string, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return "", d.invalid("%q is not a finite number", value)
	}
	if d.MinDouble != nil && f < *d.MinDouble {
		return "", d.invalid("%v is below the minimum %v", f, *d.MinDouble)
	}
	if d.MaxDouble != nil && f > *d.MaxDouble {
		return "", d.invalid("%v is above the maximum %v", f, *d.MaxDouble)
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// normalizeBool accepts what Kafka accepts: true or false in any case.
func (d *Def) normalizeBool(value string) (string, error) {
	switch text := strings.ToLower(strings.TrimSpace(value)); text {
	case "true", "false":
		return text, nil
	}
	return "", d.invalid("%q is not true or false", value)
}

// normalizeList rejects empty elements ("a,,b") because Kafka would pass
// them on as empty names. A list with an Enum must choose something.
func (d *Def) normalizeList(value string) (string, error) {
	elements := splitList(value)
	if len(elements) == 0 && len(d.Enum) > 0 {
		return "", d.invalid("the list is empty; choose from %s", strings.Join(d.Enum, ", "))
	}
	for _, e := range elements {
		if e == "" {
			return "", d.invalid("%q has an empty element", value)
		}
		if err := d.checkEnum(e); err != nil {
			return "", err
		}
	}
	return strings.Join(elements, ","), nil
}

func (d *Def) checkEnum(value string) error {
	if len(d.Enum) == 0 || slices.Contains(d.Enum, value) {
		return nil
	}
	return d.invalid("%q is not one of %s", value, strings.Join(d.Enum, ", "))
}

// splitList splits a comma separated value, trimming each element; an
// empty or blank value is the empty list.
func splitList(value string) []string {
	if strings.TrimSpace(value) == "" {
		return nil
	}
	elements := strings.Split(value, ",")
	for i := range elements {
		elements[i] = strings.TrimSpace(elements[i])
	}
	return elements
}

// entry is one resolved value, parsed once so accessors are cheap.
type entry struct {
	value  string // canonical text; "" when null
	null   bool
	source Source

	integer int64 // TypeInt, TypeLong
	double  float64
	boolean bool
	list    []string
}

// parseEntry turns a canonical value into an entry. The value has passed
// normalize (or comes from the broker with the same type), so a parse
// failure is our bug.
func parseEntry(d *Def, value string, source Source) entry {
	e := entry{value: value, source: source}
	if d.Nullable && value == "" {
		e.null = true
		return e
	}
	var err error
	switch d.Type {
	case TypeInt, TypeLong:
		e.integer, err = strconv.ParseInt(value, 10, 64)
	case TypeDouble:
		e.double, err = strconv.ParseFloat(value, 64)
	case TypeBool:
		e.boolean, err = strconv.ParseBool(value)
	case TypeList:
		e.list = splitList(value)
	}
	if err != nil {
		panic(fmt.Sprintf("config: %s: canonical value %q does not parse: %v", d.Name, value, err))
	}
	return e
}
