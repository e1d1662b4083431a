package handler

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/topics"
)

// metadataChangeWaitMax bounds a metadata change made by a request
// without a timeout of its own (AlterConfigs, auto-creation by Metadata).
const metadataChangeWaitMax = topics.ChangeWaitMax

// changeContext is the context of a metadata change made by a request
// without a timeout.
func changeContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), metadataChangeWaitMax)
}

// timedReply answers a request that carries a TimeoutMillis (CreateTopics,
// DeleteTopics, CreatePartitions, ElectLeaders) off the connection's reader goroutine, so
// that changes waiting for the quorum hold up no other request; responses
// still leave in request order. The timeout bounds the whole request from
// its arrival, as Kafka's controller applies it (ControllerApis turns it
// into one deadline for the request): an entry whose change is not
// committed by then gets REQUEST_TIMED_OUT. A timeout of zero or less is
// what librdkafka's admin API sent by default before 2.x (operation_timeout
// 0: "do not wait for propagation"), and Kafka's ZooKeeper brokers then
// made the change and answered at once; Sluice keeps making the change,
// bounded by metadataChangeWaitMax, rather than failing those clients.
func timedReply(timeoutMillis int32, answer func(context.Context) kmsg.Response) Reply {
	wait := time.Duration(timeoutMillis) * time.Millisecond
	if timeoutMillis <= 0 {
		wait = metadataChangeWaitMax
	}
	deadline := time.Now().Add(wait)
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		ctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		return answer(ctx)
	}}
}
