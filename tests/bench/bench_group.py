#!/usr/bin/python3
"""bench_group.py: the consumer-group case of the benchmark (not part of the test suite).

Against a running broker (--bootstrap), with confluent-kafka (librdkafka 2.0.2), each member in its own
process so that the three share no interpreter lock:

1. throughput: a 6-partition topic is filled with --messages values of --size bytes; then 3 members of one
   group subscribe at once and consume everything, committing asynchronously every 5000 messages
   (auto-commit off). Reported: value MB/s and messages/s from the moment the members are started until
   the last message arrived (so it includes FindCoordinator, the join and the sync), the time until the
   first message (group formation), and the rate from the first message to the last (steady consumption).
2. failover: 3 members consume a steady stream (a producer writes a record to every partition every 5 ms);
   once all 6 partitions are being consumed, one member closes (LeaveGroup). Reported: the time from the
   close() call until every partition has delivered, to one of the two remaining members, a record produced
   after the close.

Prints one line of JSON: group_mbps / group_msgs_per_s (from the start), group_first_msg_s,
group_consume_mbps / group_consume_msgs_per_s (first to last message), leave_recovery_s.
"""
import argparse
import json
import multiprocessing as mp
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

PARTS = 6


def create_topic(bootstrap, topic):
    a = AdminClient({"bootstrap.servers": bootstrap})
    fs = a.create_topics([NewTopic(topic, num_partitions=PARTS, replication_factor=1)])
    for f in fs.values():
        f.result(60)
    time.sleep(1)


def fill(bootstrap, topic, n, size):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "queue.buffering.max.messages": 200000})
    v = b"x" * size
    for i in range(n):
        while True:
            try:
                p.produce(topic, v, partition=i % PARTS)
                break
            except BufferError:
                p.poll(0.05)
    assert p.flush(120) == 0


def member_count(idx, bootstrap, topic, group, stop_at, q, start_evt):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 10000, "fetch.max.bytes": 52428800})
    start_evt.wait()
    c.subscribe([topic])
    n, first, last = 0, None, None
    while not stop_at.is_set():
        msgs = c.consume(num_messages=1000, timeout=0.2)
        for m in msgs:
            if m.error():
                continue
            n += 1
            if first is None:
                first = time.time()
            last = time.time()
            if n % 5000 == 0:
                c.commit(asynchronous=True)
        q.put((idx, n, first, last))
    c.close()


def throughput(bootstrap, messages, size):
    topic = "bench-group-%d" % int(time.time())
    create_topic(bootstrap, topic)
    fill(bootstrap, topic, messages, size)
    q, stop, start = mp.Queue(), mp.Event(), mp.Event()
    procs = [mp.Process(target=member_count, args=(i, bootstrap, topic, "bench-g", stop, q, start)) for i in range(3)]
    for p in procs:
        p.start()
    time.sleep(2)  # processes up
    t0 = time.time()
    start.set()
    latest = {}
    deadline = t0 + 300
    while time.time() < deadline:
        # each member reports its running count; keep the newest per member
        try:
            idx, n, first, last = q.get(timeout=1)
        except Exception:
            continue
        latest[idx] = (n, first, last)
        if sum(v[0] for v in latest.values()) >= messages:
            break
    stop.set()
    for p in procs:
        p.join(30)
    vals = list(latest.values())
    total = sum(v[0] for v in vals)
    end = max(v[2] for v in vals if v[2])
    first = min(v[1] for v in vals if v[1])
    secs = end - t0
    steady = end - first
    return {"group_messages": total, "group_mbps": round(total * size / secs / 1e6, 1),
            "group_msgs_per_s": int(total / secs), "group_first_msg_s": round(first - t0, 2),
            "group_consume_mbps": round(total * size / steady / 1e6, 1),
            "group_consume_msgs_per_s": int(total / steady)}


def stream_member(bootstrap, topic, group, q, leave_evt, stop):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "latest",
                  "enable.auto.commit": True, "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000})
    c.subscribe([topic])
    while not stop.is_set():
        if leave_evt is not None and leave_evt.is_set():
            c.close()
            q.put(("left", time.time()))
            return
        for m in c.consume(num_messages=100, timeout=0.1):
            if not m.error():
                q.put((m.partition(), float(m.value().decode())))
    c.close()


def failover(bootstrap):
    topic = "bench-leave-%d" % int(time.time())
    create_topic(bootstrap, topic)
    q, stop, leave = mp.Queue(), mp.Event(), mp.Event()
    procs = [mp.Process(target=stream_member, args=(bootstrap, topic, "bench-leave", q, leave if i == 0 else None,
                                                    stop)) for i in range(3)]
    for p in procs:
        p.start()
    prod = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    seen = set()
    t_ready = time.time() + 120
    while len(seen) < PARTS and time.time() < t_ready:
        for p in range(PARTS):
            prod.produce(topic, b"%.6f" % time.time(), partition=p)
        prod.poll(0)
        time.sleep(0.005)
        while not q.empty():
            part, _ = q.get()
            if part != "left":
                seen.add(part)
    time.sleep(2)  # steady state
    while not q.empty():
        q.get()
    leave.set()
    t_left, after = None, set()
    deadline = time.time() + 120
    while time.time() < deadline and len(after) < PARTS:
        for p in range(PARTS):
            prod.produce(topic, b"%.6f" % time.time(), partition=p)
        prod.poll(0)
        time.sleep(0.005)
        while not q.empty():
            part, ts = q.get()
            if part == "left":
                t_left = ts
            elif t_left is not None and ts > t_left:
                after.add(part)
    t_done = time.time()
    stop.set()
    prod.flush(10)
    for p in procs:
        p.join(30)
    if len(after) < PARTS or t_left is None:
        return {"leave_recovery_s": None}
    return {"leave_recovery_s": round(t_done - t_left, 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--messages", type=int, default=2000000)
    ap.add_argument("--size", type=int, default=100)
    args = ap.parse_args()
    res = throughput(args.bootstrap, args.messages, args.size)
    res.update(failover(args.bootstrap))
    print(json.dumps(res))
    return 0 if res.get("leave_recovery_s") is not None and res["group_messages"] >= args.messages else 1


if __name__ == "__main__":
    sys.exit(main())
