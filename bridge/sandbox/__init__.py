"""A local simulator of Buffer, faithful to what the real API does.

The real API cannot be reached from development machines, so this sandbox is
how the project is developed, tested and benchmarked (`bridge sandbox`, `bridge
dev`, the tests' `buffer_sandbox` fixture, bench/). One seeded state serves
each API Buffer has: v1 under `/1/` and GraphQL at `/graphql` (and `POST /`).

    state.py    Sandbox: seeded accounts and profiles, faults, rate windows, record
    seed.py     deterministic seed data
    faults.py   fault settings and picking one fault per request
    forms.py    PHP-style form bodies (`a[]`, `a[n][k]`)
    v1.py       Buffer API v1 endpoints over the state
    posts.py    posts in the state: each channel's posts and Buffer's rules for them
    post_pages.py  reading posts: dates, filters, sort and Relay pages
    graphql.py  Buffer's GraphQL API over the same state (graphql-core, schema.graphql)
    control.py  the `/__sandbox/...` control API
    app.py      the WSGI app: werkzeug routing to v1, GraphQL and control
    server.py   serving it on a socket (start, serve_forever, RunningSandbox)

The names below are the package's public face: configure, start, and control a sandbox.
"""

from bridge.sandbox.server import RunningSandbox, serve_forever, start
from bridge.sandbox.state import Sandbox, SandboxConfig, parse_tokens

__all__ = ["RunningSandbox", "Sandbox", "SandboxConfig", "parse_tokens", "serve_forever", "start"]
