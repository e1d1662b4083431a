package dev.sluice.test;

import java.time.Duration;
import java.util.Arrays;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Consumes topics in a group with the classic protocol from the earliest
 * offset until {@code expected} records arrived or {@code timeoutMs}
 * passed, printing {@code <topic> <partition> <offset> <key> <value>} per
 * record (value up to its first space), then commits and leaves. Exits 2 on
 * a timeout.
 *
 * <p>Usage: ConsumeAll bootstrap group expected timeoutMs topic...
 */
public final class ConsumeAll {
    private ConsumeAll() {}

    public static void main(String[] args) {
        String bootstrap = args[0];
        String group = args[1];
        long expected = Long.parseLong(args[2]);
        long deadline = System.currentTimeMillis() + Long.parseLong(args[3]);
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "sluice-consume");
        long seen = 0;
        StringBuilder out = new StringBuilder();
        try (KafkaConsumer<String, String> consumer =
                new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(Arrays.asList(args).subList(4, args.length));
            while (seen < expected && System.currentTimeMillis() < deadline) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                for (ConsumerRecord<String, String> r : records) {
                    String value = r.value();
                    int space = value.indexOf(' ');
                    out.append(r.topic()).append(' ').append(r.partition()).append(' ').append(r.offset())
                            .append(' ').append(r.key()).append(' ')
                            .append(space < 0 ? value : value.substring(0, space)).append('\n');
                    seen++;
                }
            }
            consumer.commitSync();
        }
        System.out.print(out);
        System.out.flush();
        if (seen < expected) {
            System.err.println("timed out with " + seen + " of " + expected + " records");
            System.exit(2);
        }
    }
}
