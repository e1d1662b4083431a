// Package testutil holds the helpers tests share across packages:
//
//   - waiting on a condition instead of sleeping (Eventually, WaitFor,
//     WaitForEvery);
//   - failing a package whose tests leave goroutines running
//     (VerifyNoLeaks, from TestMain);
//   - a raw Kafka wire connection (Conn) that writes request frames by
//     hand and decodes responses with kmsg, for protocol tests in process
//     (internal/server) and against the binary (test/e2e);
//   - a valid RecordBatch built through record.Build (Batch).
//
// It is imported only from _test.go files; nothing in the broker may
// depend on it. It imports nothing of the broker but record, so that the
// tests of every package above record can use it without an import cycle:
// a helper that assembles a whole broker (handler, replicas, metadata)
// belongs in a package of its own, which the tests inside those packages
// could not import.
package testutil
