package dev.sluice.test;

import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Produces with the Java producer's defaults (idempotent, acks=all), one
 * producer per codec, each to its own topic {@code <prefix>-<codec>}: to each
 * of {@code partitions} partitions, {@code count} records keyed
 * {@code k<partition>-<i>} with values {@code <codec>-<partition>-<i>} padded
 * to compress well. Prints {@code sent <topic> <partition> <offset> <i>} for
 * the last record of each partition and exits non-zero on any error.
 *
 * <p>Usage: ProduceAll bootstrap prefix partitions count codec...
 */
public final class ProduceAll {
    private ProduceAll() {}

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String prefix = args[1];
        int partitions = Integer.parseInt(args[2]);
        int count = Integer.parseInt(args[3]);
        String pad = " payload".repeat(20);
        for (int c = 4; c < args.length; c++) {
            String codec = args[c];
            String topic = prefix + "-" + codec;
            Properties props = new Properties();
            props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
            // Defaults made explicit: the test is about them.
            props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
            props.put(ProducerConfig.ACKS_CONFIG, "all");
            props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
            props.put(ProducerConfig.BATCH_SIZE_CONFIG, "4096");
            props.put(ProducerConfig.CLIENT_ID_CONFIG, "sluice-produce-" + codec);
            try (KafkaProducer<String, String> producer =
                    new KafkaProducer<>(props, new StringSerializer(), new StringSerializer())) {
                List<List<Future<RecordMetadata>>> sent = new ArrayList<>();
                for (int p = 0; p < partitions; p++) {
                    sent.add(new ArrayList<>());
                }
                for (int i = 0; i < count; i++) {
                    for (int p = 0; p < partitions; p++) {
                        String value = codec + "-" + p + "-" + i + pad;
                        sent.get(p).add(producer.send(new ProducerRecord<>(topic, p, "k" + p + "-" + i, value)));
                    }
                }
                producer.flush();
                for (int p = 0; p < partitions; p++) {
                    RecordMetadata last = null;
                    for (Future<RecordMetadata> f : sent.get(p)) {
                        last = f.get();
                    }
                    System.out.println("sent " + topic + " " + p + " " + last.offset() + " " + (count - 1));
                }
            }
        }
    }
}
