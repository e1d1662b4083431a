package dev.sluice.test;

import java.util.Arrays;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

/**
 * Kafka Streams WordCount: lines from {@code input} are split into
 * lower-case words, re-keyed by word (a repartition topic), counted in a
 * RocksDB store (a changelog topic) and each new count written to
 * {@code output} as word to a long. Runs at-least-once (the default
 * guarantee) until its standard input closes, then closes the topology and
 * exits 0; exits 1 if Streams goes to ERROR.
 *
 * <p>Usage: WordCount bootstrap application-id state-dir input output
 */
public final class WordCount {
    private WordCount() {}

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, args[1]);
        props.put(StreamsConfig.STATE_DIR_CONFIG, args[2]);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "200");
        props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0"); // every update reaches the output
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, "1");
        props.put(StreamsConfig.consumerPrefix("group.protocol"), "classic");

        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(args[3], Consumed.with(Serdes.String(), Serdes.String()))
                .flatMapValues(line -> Arrays.asList(line.toLowerCase(Locale.ROOT).split("\\W+")))
                .filter((key, word) -> !word.isEmpty())
                .groupBy((key, word) -> word, Grouped.with("by-word", Serdes.String(), Serdes.String()))
                .count(Materialized.as("counts"))
                .toStream()
                .to(args[4], Produced.with(Serdes.String(), Serdes.Long()));

        CountDownLatch done = new CountDownLatch(1);
        int[] exit = {0};
        try (KafkaStreams streams = new KafkaStreams(builder.build(), props)) {
            streams.setStateListener((now, before) -> {
                System.out.println("state " + before + " -> " + now);
                if (now == KafkaStreams.State.ERROR) {
                    exit[0] = 1;
                    done.countDown();
                }
            });
            streams.setUncaughtExceptionHandler(e -> {
                e.printStackTrace();
                exit[0] = 1;
                done.countDown();
                return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler
                        .StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            });
            streams.start();
            Thread stdin = new Thread(() -> {
                try {
                    while (System.in.read() >= 0) {
                        // wait for the end of input
                    }
                } catch (Exception e) {
                    // closed
                }
                done.countDown();
            });
            stdin.setDaemon(true);
            stdin.start();
            done.await();
        }
        System.out.println("closed");
        System.exit(exit[0]);
    }
}
