// Record output for sluice consume: kcat-style templates, parsed once into
// a list of pieces, and one JSON object per line.

package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// defaultRecordFormat prints each value on its own line, as kcat does.
const defaultRecordFormat = `%v\n`

// recordFormatHelp documents the template directives.
const recordFormatHelp = `Output format: "json" for one JSON object per record and line, or a template
(default '` + defaultRecordFormat + `') in which these directives, as in kcat, are replaced:
  %t  topic             %p  partition         %o  offset
  %k  key               %K  key length        %T  timestamp (Unix ms)
  %v  value (also %s)   %S  value length      %h  headers, as k1=v1,k2=v2
  %%  a percent sign    \n \t \r \\  newline, tab, carriage return, backslash
Keys, values and headers are written as their raw bytes. In JSON, a key,
value or header value that is not valid UTF-8 is base64 with
"<field>_encoding": "base64"; a null key is null.`

// recordPiece is one part of a parsed template: literal text, or a
// directive (the byte after '%').
type recordPiece struct {
	literal   []byte
	directive byte
}

// recordTemplate is a parsed --format template.
type recordTemplate []recordPiece

func parseRecordTemplate(format string) (recordTemplate, error) {
	var pieces recordTemplate
	var literal []byte
	flush := func() {
		if len(literal) > 0 {
			pieces = append(pieces, recordPiece{literal: literal})
			literal = nil
		}
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case (c == '%' || c == '\\') && i+1 == len(format):
			return nil, fmt.Errorf("--format ends with a lone %q; write %s%s for the character itself", c, string(c), string(c))
		case c == '\\':
			i++
			switch format[i] {
			case 'n':
				literal = append(literal, '\n')
			case 't':
				literal = append(literal, '\t')
			case 'r':
				literal = append(literal, '\r')
			case '\\':
				literal = append(literal, '\\')
			default:
				return nil, fmt.Errorf(`--format has an unknown escape \%c; known are \n, \t, \r and \\`, format[i])
			}
		case c == '%':
			i++
			switch d := format[i]; d {
			case '%':
				literal = append(literal, '%')
			case 't', 'p', 'o', 'k', 'K', 'v', 's', 'S', 'T', 'h':
				flush()
				pieces = append(pieces, recordPiece{directive: d})
			default:
				return nil, fmt.Errorf("--format has an unknown directive %%%c; known are %%t %%p %%o %%k %%K %%v %%s %%S %%T %%h and %%%%", d)
			}
		default:
			literal = append(literal, c)
		}
	}
	flush()
	return pieces, nil
}

// appendRecord appends r rendered by the template to dst.
func (t recordTemplate) appendRecord(dst []byte, r *kgo.Record) []byte {
	for _, p := range t {
		switch p.directive {
		case 0:
			dst = append(dst, p.literal...)
		case 't':
			dst = append(dst, r.Topic...)
		case 'p':
			dst = strconv.AppendInt(dst, int64(r.Partition), 10)
		case 'o':
			dst = strconv.AppendInt(dst, r.Offset, 10)
		case 'k':
			dst = append(dst, r.Key...)
		case 'K':
			dst = strconv.AppendInt(dst, int64(len(r.Key)), 10)
		case 'v', 's':
			dst = append(dst, r.Value...)
		case 'S':
			dst = strconv.AppendInt(dst, int64(len(r.Value)), 10)
		case 'T':
			dst = strconv.AppendInt(dst, r.Timestamp.UnixMilli(), 10)
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, h.Key...)
				dst = append(dst, '=')
				dst = append(dst, h.Value...)
			}
		}
	}
	return dst
}

// recordJSON is the --format json shape of one record.
type recordJSON struct {
	Topic         string       `json:"topic"`
	Partition     int32        `json:"partition"`
	Offset        int64        `json:"offset"`
	Timestamp     int64        `json:"timestamp"`
	Key           *string      `json:"key"`
	KeyEncoding   string       `json:"key_encoding,omitempty"`
	Value         *string      `json:"value"`
	ValueEncoding string       `json:"value_encoding,omitempty"`
	Headers       []headerJSON `json:"headers"`
}

type headerJSON struct {
	Key           string `json:"key"`
	Value         string `json:"value"`
	ValueEncoding string `json:"value_encoding,omitempty"`
}

// jsonBytes renders b as a JSON string field: text when it is valid
// UTF-8, else base64 with the encoding named. nil stays null.
func jsonBytes(b []byte) (*string, string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, ""
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s, "base64"
}

func newRecordJSON(r *kgo.Record) recordJSON {
	out := recordJSON{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Timestamp: r.Timestamp.UnixMilli(),
		Headers:   []headerJSON{},
	}
	out.Key, out.KeyEncoding = jsonBytes(r.Key)
	out.Value, out.ValueEncoding = jsonBytes(r.Value)
	for _, h := range r.Headers {
		v, enc := jsonBytes(h.Value)
		hj := headerJSON{Key: h.Key, ValueEncoding: enc}
		if v != nil {
			hj.Value = *v
		}
		out.Headers = append(out.Headers, hj)
	}
	return out
}

// recordWriter writes records in the chosen format.
type recordWriter struct {
	w        io.Writer
	template recordTemplate // nil for JSON
	json     *json.Encoder
	buf      []byte
}

func newRecordWriter(w io.Writer, format string) (*recordWriter, error) {
	if format == formatJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return &recordWriter{w: w, json: enc}, nil
	}
	t, err := parseRecordTemplate(format)
	if err != nil {
		return nil, err
	}
	return &recordWriter{w: w, template: t}, nil
}

func (rw *recordWriter) write(r *kgo.Record) error {
	if rw.json != nil {
		return rw.json.Encode(newRecordJSON(r))
	}
	rw.buf = rw.template.appendRecord(rw.buf[:0], r)
	_, err := rw.w.Write(rw.buf)
	return err
}
