"""/v1/profiles/<ref>/posts: place a post on the kept week's next free slot (or Buffer's
queue, now, or a set time), and list a profile's coming posts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from bridge import catalog, jobs, profiles
from bridge.posting import listing, posts
from bridge.web.answers import accepted
from bridge.web.caller import authenticate_first, current_client, idempotency_key, services
from bridge.web.fields import StrictSchema
from bridge.web.schemas import AcceptedSchema

blp = Blueprint(
    "posts", __name__, url_prefix="/v1/profiles", description="Posts placed on the kept week"
)
authenticate_first(blp)


class PostInput(StrictSchema):
    """A post to place."""

    text = fields.String(
        required=True,
        validate=validate.Length(min=1, max=posts.MAX_TEXT),
        metadata={"example": "Hello"},
    )
    when = fields.String(
        load_default="queue",
        validate=validate.Length(max=40),
        metadata={
            "description": "`queue` (the next free slot of the week), `now`, or an ISO 8601 "
            "time with its offset",
            "example": "queue",
        },
    )
    link = fields.String(load_default=None, validate=validate.Length(max=posts.MAX_URL))
    image_url = fields.String(
        load_default=None,
        validate=validate.Length(max=posts.MAX_URL),
        metadata={"description": "refused for now: " + posts.NO_IMAGES},
    )


class PostViewSchema(StrictSchema):
    """One coming post of the profile as Buffer has it."""

    id = fields.String(required=True)
    due_at = fields.String(allow_none=True, metadata={"description": "in the profile's timezone"})
    excerpt = fields.String()
    status = fields.String()
    share_mode = fields.String()
    placed_by_bridge = fields.Boolean()
    follows_week = fields.Boolean(metadata={"description": "moves when the kept week changes"})
    slot = fields.String(allow_none=True, metadata={"example": "tue 09:00"})


class PostListSchema(StrictSchema):
    """The profile's coming posts, soonest first."""

    profile_id = fields.String(required=True)
    schedule_mode = fields.String()
    posts = fields.List(fields.Nested(PostViewSchema), required=True)
    stale = fields.Boolean(metadata={"description": "Buffer could not be asked: the bridge's own"})
    read_at = fields.String(
        metadata={"description": "when Buffer was asked (at most once a minute per profile)"}
    )
    stale_reason = fields.String()


@blp.route("/<ref>/posts")
class ProfilePosts(MethodView):
    @blp.arguments(PostInput)
    @blp.response(202, AcceptedSchema)
    def post(self, body: dict[str, Any], ref: str) -> Any:
        """Place a post: `when` queue (default) takes the kept week's next free slot."""
        post = posts.parse(body["text"], body["when"], body["link"], body["image_url"])
        job, profile, created = posts.submit(
            services(), current_client(), ref, post, jobs.Provenance("rest", idempotency_key())
        )
        extra: dict[str, Any] = {
            "action": "post",
            "profile": profiles.label(profile),
            "profile_id": profile.id,
            "post": {**post.to_params(), "excerpt": post.excerpt},
        }
        if not created:
            extra["replayed"] = True
        return accepted(job, **extra)

    @blp.response(200, PostListSchema)
    def get(self, ref: str) -> dict[str, Any]:
        """The profile's coming posts, as Buffer has them (the bridge's own record when
        Buffer cannot be asked now)."""
        profile = catalog.readable(services(), current_client(), ref)
        return listing.coming(services(), profile, dt.datetime.now(dt.UTC))
