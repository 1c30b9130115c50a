"""The kept week's next free slot with a busy channel, and the cost of moving a queue.

Prints, for a channel with N scheduled posts (default 500, three slots a day so they fill
~170 days): the time the bridge spends finding the next free slot, from Buffer's answer
to the slot: parsing N posts as the `posts` query returns them (pages of 100) plus the
slot finder over them; min / median / max of --runs. Then, with the sandbox over a real
socket, moves a queue of --queue posts (default 100) onto three new weeks in turn and
prints, for each, the editPost calls made beside the posts whose slot changes (worked out
here from the weeks): exactly the moves needed, none for a post already on its slot.

    .venv/bin/python bench/slots.py [--posts 500] [--runs 50] [--queue 100]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH


from bridge.buffer.posts import BufferPost
from bridge.posting.slots import SlotFinder
from bridge.schedules import Week

WEEK = Week({"daily": ["08:00", "12:30", "18:00"]})
TZ = ZoneInfo("Europe/London")


def buffer_pages(count: int, now: dt.datetime) -> list[dict]:
    """`posts` answers as Buffer sends them: edges of nodes, pages of 100."""
    finder = SlotFinder(WEEK, TZ, now)
    nodes = [
        {
            "id": f"{n:024x}",
            "dueAt": finder.take().at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "status": "scheduled",
            "shareMode": "customScheduled",
            "isCustomScheduled": True,
            "via": "api",
            "text": f"post number {n} " * 5,
            "channelId": "4eb854340acb04e870000010",
        }
        for n in range(count)
    ]
    return [{"edges": [{"node": n} for n in nodes[i : i + 100]]} for i in range(0, count, 100)]


def next_free(pages: list[dict], now: dt.datetime) -> dt.datetime:
    posts = [BufferPost.from_graphql(e["node"]) for page in pages for e in page["edges"]]
    finder = SlotFinder(WEEK, TZ, now, [p.due_at for p in posts if p.due_at])
    return finder.take().at


def time_next_free(count: int, runs: int) -> None:
    now = dt.datetime.now(dt.UTC)
    pages = buffer_pages(count, now)
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        next_free(pages, now)
        seconds.append(time.perf_counter() - started)
    ms = sorted(s * 1000 for s in seconds)
    print(
        f"next free slot, {count} scheduled posts: min {ms[0]:.2f} ms, "
        f"median {statistics.median(ms):.2f} ms, max {ms[-1]:.2f} ms ({runs} runs; goal < 20 ms)"
    )


def moves(queue: int) -> None:
    """A queue of `queue` placed posts moved onto new weeks: the editPosts each move makes,
    beside the moves needed (posts whose slot changes), worked out from the weeks here."""
    from bridge import catalog, changes, jobs, sync
    from bridge import sandbox as sim
    from bridge.config import load_settings
    from bridge.harness.redis_server import RedisServer
    from bridge.migrate import upgrade
    from bridge.posting import posts
    from bridge.rotation import system_client
    from bridge.services import Services

    running = sim.start(sim.SandboxConfig(seed=7, profiles=5, rate_limit=(600, 60.0)))
    running.sandbox.set_faults(graphql_rate_limit="100000/60s")
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp))
        server.start()
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        redis_url = server.url
        services = Services(
            load_settings(
                {
                    "DATABASE_URL": url,
                    "REDIS_URL": redis_url,
                    "BUFFER_API_KEY": "sandbox-key",
                    "BUFFER_GRAPHQL_URL": f"{running.root_url}graphql",
                    "BUFFER_GRAPHQL_RATE_LIMIT": "100000/60s",
                    "POST_LEAD_SECONDS": "0",
                    "LOG_FORMAT": "text",
                    "LOG_LEVEL": "WARNING",
                }
            )
        )
        operator = system_client()
        try:
            profile = catalog.readable(services, operator, "@skinnyoteam")
            tz = ZoneInfo(profile.timezone or "UTC")

            def keep(times: tuple[str, ...]) -> None:
                request = changes.ChangeRequest("replace", profile.id, ("daily",), times)
                changes.submit(services, operator, request, jobs.Provenance("cli"))
                sync.sync_profile(services, profile.id)

            keep(("09:00",))
            for n in range(queue):
                post = posts.PostRequest(f"post {n}")
                posts.submit(services, operator, profile.id, post, jobs.Provenance("cli"))
            sync.sync_profile(services, profile.id)
            weeks = [("09:00", "21:00"), ("09:00", "15:00", "21:00"), ("07:00",)]
            laid = _slots(("09:00",), tz, queue)
            for times in weeks:
                needed = sum(a != b for a, b in zip(laid, _slots(times, tz, queue), strict=True))
                running.sandbox.clear_requests()
                keep(times)
                edits = sum(
                    1
                    for r in running.sandbox.recorded()
                    if ("operationName", "Move") in (r.form or [])
                )
                print(
                    f"moving {queue} posts onto daily {' '.join(times)}: {edits} editPost calls, "
                    f"{needed} posts change slot"
                )
                laid = _slots(times, tz, queue)
        finally:
            services.close()
            server.stop()
            running.stop()


def _slots(times: tuple[str, ...], tz: ZoneInfo, count: int) -> list[dt.datetime]:
    finder = SlotFinder(Week({"daily": list(times)}), tz, dt.datetime.now(dt.UTC))
    return [finder.take().at for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--queue", type=int, default=100)
    args = parser.parse_args()
    time_next_free(args.posts, args.runs)
    moves(args.queue)


if __name__ == "__main__":
    main()
