// Package config is Sluice's configuration: one registry of Kafka's own
// config keys (see Lookup and Defs) drives parsing, validation, defaults and
// the answers to DescribeConfigs, so that a key behaves the same whether it
// arrives in a file, the environment, a flag or a CreateTopics request.
//
// # Broker configuration
//
// Load builds an immutable Broker from four layers. A later layer wins:
//
//	defaults < properties file < environment < flags
//
// The properties file uses Java .properties syntax, as Kafka's
// server.properties does: "#" and "!" start comments, a key is separated
// from its value by "=", ":" or whitespace, a trailing backslash continues a
// line, and backslash escapes (including \uXXXX) work as in Java. The file is
// read as UTF-8, not ISO-8859-1 as Java would, because that is what editors
// write today.
//
// The environment follows the convention of the apache/kafka Docker image,
// so an existing compose file works unchanged. Only variables starting with
// KAFKA_ are considered; the prefix is stripped, then "___" becomes "-",
// "__" becomes "_", the remaining "_" become ".", and the result is
// lowercased:
//
//	KAFKA_LOG_DIRS                                          log.dirs
//	KAFKA_ADVERTISED_LISTENERS                              advertised.listeners
//	KAFKA_LISTENER_NAME_SASL__SSL_SCRAM___SHA___256_...     listener.name.sasl_ssl.scram-sha-256....
//
// Unknown keys are treated by where they come from: the image exports
// variables such as KAFKA_HEAP_OPTS and KAFKA_JMX_PORT that are not broker
// keys, so unknown environment keys are ignored silently; an unknown key in
// the file is a warning, as in Kafka, because files outlive versions; an
// unknown flag is an error, because someone just typed it.
//
// Kafka's aliases are resolved by derived accessors rather than by rewriting
// values, so DescribeConfigs still shows what the operator wrote: LogDirs
// (log.dirs, else log.dir), NodeID (node.id and broker.id must agree),
// RetentionMs (log.retention.ms, else .minutes, else .hours) and RollMs
// (log.roll.ms, else log.roll.hours).
//
// # Topic configuration
//
// A Topic layers a topic's overrides (segment.bytes, retention.ms, ...) over
// the broker keys that supply their defaults (log.segment.bytes,
// log.retention.ms, ...). Its Source method answers DescribeConfigs'
// question of where each value came from.
package config
