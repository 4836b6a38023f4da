"""JetStream (the consumer, the dead letters), HTTP (the posts) and the metrics of the delivery."""
