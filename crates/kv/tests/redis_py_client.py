"""redis-py against a blueprint kv node: run by tests/resp.rs with the port as argument.

Exercises what applications do with the library: connect (RESP2 and RESP3, which send
HELLO and CLIENT SETINFO), strings, counters, expiry, pipelines, scan_iter, info.
Exits non-zero with a message on the first mismatch.
"""
import sys

import redis


def check(protocol: int, port: int) -> None:
    client = redis.Redis(host="127.0.0.1", port=port, protocol=protocol, client_name=f"py{protocol}")
    prefix = f"p{protocol}:"
    assert client.ping() is True
    assert client.set(prefix + "greeting", "hello") is True
    assert client.get(prefix + "greeting") == b"hello"
    assert client.get(prefix + "absent") is None
    assert client.set(prefix + "greeting", "x", nx=True) is None
    assert client.incr(prefix + "counter") == 1
    assert client.incrby(prefix + "counter", 41) == 42
    assert client.expire(prefix + "counter", 100) is True
    assert 99 <= client.ttl(prefix + "counter") <= 100
    assert client.persist(prefix + "counter") is True
    assert client.ttl(prefix + "counter") == -1
    assert client.append(prefix + "greeting", " world") == 11
    assert client.strlen(prefix + "greeting") == 11
    name = client.client_getname()
    # redis-py decodes the name under RESP2 only, as it does with Redis itself.
    assert name in (f"py{protocol}", f"py{protocol}".encode()), name
    pipe = client.pipeline(transaction=False)
    for index in range(50):
        pipe.set(f"{prefix}item:{index}", index)
    pipe.mget([f"{prefix}item:{index}" for index in range(3)])
    replies = pipe.execute()
    assert replies[:50] == [True] * 50, replies[:3]
    assert replies[50] == [b"0", b"1", b"2"], replies[50]
    scanned = sorted(key.decode() for key in client.scan_iter(match=prefix + "item:*", count=7))
    assert scanned == sorted(f"{prefix}item:{index}" for index in range(50)), scanned[:3]
    assert client.delete(prefix + "greeting", prefix + "absent") == 1
    assert client.exists(prefix + "greeting") == 0
    info = client.info()
    assert info["redis_version"] == "7.2.0", info
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    client.close()


def main() -> None:
    port = int(sys.argv[1])
    for protocol in (2, 3):
        check(protocol, port)
    client = redis.Redis(host="127.0.0.1", port=port)
    assert client.dbsize() > 0
    assert client.flushdb() is True
    assert client.dbsize() == 0
    print("redis-py", redis.__version__, "ok on RESP2 and RESP3")


if __name__ == "__main__":
    main()
