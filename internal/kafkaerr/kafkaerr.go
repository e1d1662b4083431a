// Package kafkaerr maps the broker's errors to the Kafka error codes and
// messages clients get. It is the one place that mapping is written: the
// handlers, the controller's RPC and the group coordinator all answer
// through Code and Message.
//
// An error maps to a code in one of two ways: it wraps a *kerr.Error
// (fmt.Errorf("%w: ...", kerr.InvalidTopicException)), or it wraps a
// sentinel made with New, which keeps its own text and names its code
// (log.ErrOffsetOutOfRange is OFFSET_OUT_OF_RANGE, record.ErrCorrupt is
// CORRUPT_MESSAGE). Anything else is UNKNOWN_SERVER_ERROR.
//
// The package is a leaf: it imports no package of the broker, so storage
// and codec packages can name their codes without knowing who answers.
package kafkaerr

import (
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Coded is an error that knows the Kafka error it is answered with.
type Coded interface {
	error
	KafkaError() *kerr.Error
}

// sentinel is an error value with its own text and a Kafka error.
type sentinel struct {
	text string
	code *kerr.Error
}

func (s *sentinel) Error() string           { return s.text }
func (s *sentinel) KafkaError() *kerr.Error { return s.code }

// New returns a sentinel error whose text is text and which clients get as
// code. Each call returns a distinct error, for errors.Is.
func New(text string, code *kerr.Error) error {
	return &sentinel{text: text, code: code}
}

// Of returns the Kafka error err is answered with: the *kerr.Error it
// wraps, else the code of the Coded error it wraps, else
// UNKNOWN_SERVER_ERROR; nil for nil.
func Of(err error) *kerr.Error {
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke
	}
	var c Coded
	if errors.As(err, &c) {
		return c.KafkaError()
	}
	return kerr.UnknownServerError
}

// Code is the error code of Of(err); 0 for nil.
func Code(err error) int16 {
	if ke := Of(err); ke != nil {
		return ke.Code
	}
	return 0
}

// Message is the text for a response's ErrorMessage field: like Kafka's,
// only the human detail, without the code's name and generic description
// that the error code already carries (nil if there is no detail).
func Message(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	var ke *kerr.Error
	if errors.As(err, &ke) {
		s = strings.TrimPrefix(s, ke.Error())
		s = strings.TrimPrefix(s, ": ")
		if s == "" {
			return nil
		}
	}
	return &s
}
