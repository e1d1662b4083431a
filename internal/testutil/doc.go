// Package testutil holds the helpers tests share across packages: waiting
// on a condition instead of sleeping, and (as they move here) the raw
// Kafka wire connection, broker assembly and batch helpers. It is imported
// only from _test.go files; nothing in the broker may depend on it.
package testutil
