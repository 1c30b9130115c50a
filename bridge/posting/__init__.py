"""Kept weeks and posts: how "set the weekday schedule" keeps its meaning after v1.

Buffer retires its v1 API on BUFFER_V1_SUNSET, and its GraphQL API cannot change a
posting schedule; it can place posts at explicit times. So a profile in `bridge` mode
has its week kept here, and the posts sent through the bridge are placed on the week's
slots and moved when the week changes.

    models.py      ProfileSettings (mode, adopt_queue, min_gap, excluded dates, the kept
                   week) and PlacedPost (every post the bridge placed or adopted)
    kept.py        who keeps a profile's week (its mode) and the kept week itself
    slots.py       the week's free slots (pure: DST, pauses, excluded dates, gaps)
    posts.py       a post asked for (PostRequest) and its intake (`submit`)
    settings.py    reading and changing a profile's posting settings
    placement.py   the worker side: place queued posts, move posts onto a new week
    adoption.py    moving Buffer's own queue onto the kept week (adopt_queue)
    api.py         REST: /v1/profiles/<ref>/posts and the settings PATCH

Changes themselves still go through `changes.submit` and the sync (`bridge.sync`),
which folds them onto the kept week instead of writing v1 for a `bridge` profile.
"""
