"""One Redis database per test run, so two runs on one machine (a developer's and CI's) never share
the job keys each test flushes and reuses.

The run claims the first of databases 15, 14, ... 1 whose lock key it can set (SET NX, expiring after
two hours in case the run is killed) and deletes the lock when the process exits.
"""

from __future__ import annotations

import atexit
import functools
import os

HOST_PORT = "127.0.0.1:6379"
LOCK = "predeploy-tests:lock"


@functools.cache
def run_redis_url() -> str:
    """redis://127.0.0.1:6379/N for a database no other live test run holds (15 if Redis is down)."""
    import redis

    for db in range(15, 0, -1):
        conn = redis.Redis.from_url(f"redis://{HOST_PORT}/{db}", socket_connect_timeout=2)
        try:
            claimed = conn.set(LOCK, str(os.getpid()), nx=True, ex=7200)
        except redis.exceptions.ConnectionError:
            return f"redis://{HOST_PORT}/15"  # the fixtures skip (or fail under CI) with the reason
        if claimed:
            atexit.register(_release, db)
            return f"redis://{HOST_PORT}/{db}"
        conn.close()
    raise RuntimeError("every Redis test database 1-15 is held by another test run; wait for one to end")


def _release(db: int) -> None:
    import redis

    try:
        conn = redis.Redis.from_url(f"redis://{HOST_PORT}/{db}", socket_connect_timeout=2)
        if conn.get(LOCK) == str(os.getpid()).encode():
            conn.delete(LOCK)
    except redis.exceptions.RedisError:
        pass


def flush(conn: object) -> None:
    """Empty this run's database (flushdb) and keep the run's claim on it."""
    conn.flushdb()  # type: ignore[attr-defined]
    conn.set(LOCK, str(os.getpid()), ex=7200)  # type: ignore[attr-defined]
