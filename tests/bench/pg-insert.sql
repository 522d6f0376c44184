-- pgbench: one-row INSERT per transaction (the ceiling for the POST enqueue, a durable commit each).
\set v random(1, 1000000000)
INSERT INTO bench_insert (v) VALUES (:v);
