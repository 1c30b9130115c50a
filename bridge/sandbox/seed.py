"""Deterministic seed data: realistic Buffer accounts and profiles from a seed.

Profiles carry every field real answers carry (behaviour.md, "Responses"), ids
in MongoDB's shape (8 hex digits of creation time, 16 random), and schedules
shaped like real ones (mostly a weekday entry and a weekend entry).
"""

from __future__ import annotations

import random
from typing import Any

from bridge.week import DAYS

__all__ = ["seed_account"]

_HEX_CHARS = "0123456789abcdef"
_SERVICES = ("twitter", "facebook", "linkedin", "instagram", "pinterest")
_TIMEZONES = (
    "Europe/London",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Europe/Paris",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
)
_WORDS_A = (
    "acme", "blue", "bright", "city", "daily", "fresh", "green", "happy", "indie", "little",
    "north", "open", "urban", "wild", "sunny", "metro", "golden", "rapid", "quiet", "smart",
)  # fmt: skip
_WORDS_B = (
    "bakery", "books", "coffee", "design", "garden", "labs", "media", "studio", "travel",
    "works", "fitness", "kitchen", "news", "crafts", "outdoors", "records", "bikes", "tech",
)  # fmt: skip
_FORMATTED_SERVICE = {
    "twitter": "Twitter",
    "facebook": "Facebook",
    "linkedin": "LinkedIn",
    "instagram": "Instagram",
    "pinterest": "Pinterest",
}
_VERB = {
    "twitter": "tweet",
    "facebook": "post",
    "linkedin": "post",
    "instagram": "post",
    "pinterest": "pin",
}


_LATEST_CREATED = 1_750_000_000  # mid 2025: ids keep 8 hex digits of time (24 in all)


def _object_id(rng: random.Random, created_at: int) -> str:
    """A MongoDB-style id: 8 hex digits of creation time, 16 random hex digits."""
    return f"{created_at:08x}" + "".join(rng.choice(_HEX_CHARS) for _ in range(16))


def _times(rng: random.Random, count: int, start: int, end: int) -> list[str]:
    """``count`` distinct sorted HH:MM times between hours start and end."""
    minutes_pool = (0, 0, 15, 30, 30, 45, rng.randrange(60))
    chosen: set[str] = set()
    while len(chosen) < count:
        chosen.add(f"{rng.randrange(start, end):02d}:{rng.choice(minutes_pool):02d}")
    return sorted(chosen)


def _seed_schedules(rng: random.Random, service: str) -> list[dict[str, list[str]]]:
    """Realistic schedules: mostly one weekday entry and one weekend entry."""
    busy = 8 if service in ("twitter", "pinterest") else 4
    shape = rng.random()
    if shape < 0.6:
        return [
            {"days": list(DAYS[:5]), "times": _times(rng, rng.randint(2, busy), 7, 21)},
            {"days": ["sat", "sun"], "times": _times(rng, rng.randint(1, 2), 9, 20)},
        ]
    if shape < 0.8:
        return [{"days": list(DAYS), "times": _times(rng, rng.randint(1, busy), 8, 22)}]
    if shape < 0.95:
        return [
            {"days": ["mon", "wed", "fri"], "times": _times(rng, rng.randint(2, busy), 7, 20)},
            {"days": ["tue", "thu"], "times": _times(rng, rng.randint(1, 3), 8, 18)},
            {"days": ["sat", "sun"], "times": _times(rng, 1, 10, 18)},
        ]
    return [{"days": list(DAYS[:5]), "times": _times(rng, rng.randint(1, 3), 8, 18)}]


def _service_details(rng: random.Random, service: str, username: str) -> dict[str, Any]:
    """The service-specific fields of a profile."""
    followers = int(rng.lognormvariate(7, 1.5))
    if service == "twitter":
        service_id = str(rng.randrange(10**8, 10**18))
        image = f"{rng.randrange(10**9, 10**10)}/{username[:8]}_normal.png"
        return {
            "service_id": service_id,
            "service_type": "profile",
            "formatted_username": f"@{username}",
            "avatar": f"http://pbs.twimg.com/profile_images/{image}",
            "avatar_https": f"https://pbs.twimg.com/profile_images/{image}",
            "cover_photo": f"https://pbs.twimg.com/profile_banners/{service_id}/1500x500",
            "statistics": {"followers": followers},
        }
    if service == "facebook":
        service_id = str(rng.randrange(10**14, 10**15))
        return {
            "service_id": service_id,
            "service_type": "page",
            "formatted_username": username.replace("_", " ").title(),
            "avatar": f"http://graph.facebook.com/{service_id}/picture",
            "avatar_https": f"https://graph.facebook.com/{service_id}/picture",
            "cover_photo": f"https://scontent.xx.fbcdn.net/v/t1.0-9/{service_id}_n.jpg",
            "statistics": {"followers": followers},
        }
    if service == "linkedin":
        service_id = "".join(
            rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz0123456789")
            for _ in range(10)
        )
        image = "".join(rng.choice(_HEX_CHARS) for _ in range(20))
        return {
            "service_id": service_id,
            "service_type": rng.choice(("profile", "page")),
            "formatted_username": username.replace("_", " ").title(),
            "avatar": f"http://media.licdn.com/mpr/mprx/0_{image}",
            "avatar_https": f"https://media.licdn.com/mpr/mprx/0_{image}",
            "cover_photo": "https://static.licdn.com/scds/common/u/images/themes/default.png",
            "statistics": {"connections": followers},
        }
    service_id = str(rng.randrange(10**16, 10**18))
    if service == "instagram":
        image = "".join(rng.choice(_HEX_CHARS) for _ in range(32))
        return {
            "service_id": service_id,
            "service_type": rng.choice(("profile", "business")),
            "formatted_username": f"@{username}",
            "avatar": f"http://scontent.cdninstagram.com/t51.2885-19/{image}.jpg",
            "avatar_https": f"https://scontent.cdninstagram.com/t51.2885-19/{image}.jpg",
            "cover_photo": "",
            "statistics": {"followers": followers},
        }
    image = "".join(rng.choice(_HEX_CHARS) for _ in range(32))
    return {
        "service_id": service_id,
        "service_type": "profile",
        "formatted_username": username,
        "avatar": f"http://i.pinimg.com/75x75_RS/{image[:2]}/{image}.jpg",
        "avatar_https": f"https://i.pinimg.com/75x75_RS/{image[:2]}/{image}.jpg",
        "cover_photo": "",
        "statistics": {"followers": followers},
    }


def _username(rng: random.Random, service: str, taken: set[str]) -> str:
    """A plausible brand username, unique within the account."""
    while True:
        base = f"{rng.choice(_WORDS_A)}{rng.choice(('', '_', ''))}{rng.choice(_WORDS_B)}"
        if service == "facebook" or service == "linkedin":
            base = base.replace("_", "") + rng.choice(("", "_official", "_hq"))
        if rng.random() < 0.2:
            base += str(rng.randrange(2, 99))
        name = base[:15] if service == "twitter" else base
        if name not in taken:
            taken.add(name)
            return name


def _docs_profile() -> dict[str, Any]:
    """The example profile of profiles.md, first profile of the ``default`` account."""
    return {
        "id": "4eb854340acb04e870000010",
        "created_at": 1320703028,
        "service": "twitter",
        "service_id": "164724445",
        "service_username": "skinnyoteam",
        "service_type": "profile",
        "formatted_username": "@skinnyoteam",
        "avatar": "http://a3.twimg.com/profile_images/1405180232.png",
        "avatar_https": "https://si0.twimg.com/profile_images/1405180232.png",
        "cover_photo": "https://pbs.twimg.com/profile_banners/164724445/1500x500",
        "statistics": {"followers": 246},
        "timezone": "Europe/London",
        "schedules": [{"days": list(DAYS[:5]), "times": ["12:00", "17:00", "18:00"]}],
    }


def seed_account(seed: int, account: str, count: int) -> list[dict[str, Any]]:
    """The profiles of one account as Buffer's JSON objects, a new list on every call.

    Deterministic in (seed, account, count), so a test or benchmark can name the
    seed and get the same profiles, ids and schedules on every machine. The first
    profile of the account named ``default`` is the example of profiles.md
    (@skinnyoteam), which the README's and dev banner's examples rely on.
    """
    rng = random.Random(f"buffer-sandbox:{seed}:{account}")
    owner_created = rng.randrange(1_300_000_000, 1_500_000_000)
    user_id = _object_id(rng, owner_created)
    colleagues = [_object_id(rng, owner_created + rng.randrange(10**6, 10**8)) for _ in range(3)]
    services = list(_SERVICES)
    rng.shuffle(services)
    services.remove("twitter")
    services.insert(0, "twitter")
    taken: set[str] = set()
    profiles: list[dict[str, Any]] = []
    created = owner_created
    for index in range(count):
        service = services[index] if index < len(services) else rng.choice(_SERVICES)
        created += rng.randrange(3600, 200 * 86400)
        if created > _LATEST_CREATED:  # large accounts: stay in the past and in 8 hex digits
            created = owner_created + (created - owner_created) % (_LATEST_CREATED - owner_created)
        if index == 0 and account == "default":
            base = _docs_profile()
            taken.add(base["service_username"])
        else:
            username = _username(rng, service, taken)
            base = {
                "id": _object_id(rng, created),
                "created_at": created,
                "service": service,
                "service_username": username,
                "timezone": rng.choice(_TIMEZONES),
                "schedules": _seed_schedules(rng, service),
                **_service_details(rng, service, username),
            }
        team = [user_id, *rng.sample(colleagues, rng.randint(0, 2))]
        profiles.append(
            {
                "_id": base["id"],
                "avatar": base["avatar"],
                "avatar_https": base["avatar_https"],
                "counts": {
                    "daily_suggestions": rng.randint(0, 25),
                    "drafts": rng.randint(0, 5),
                    "pending": rng.randint(0, 40),
                    "sent": rng.randint(50, 6000),
                },
                "cover_photo": base["cover_photo"],
                "created_at": base["created_at"],
                "default": index == 0 or rng.random() < 0.4,
                "disabled_features": rng.choice(([], [], ["mentions"])),
                "disconnected": False,
                "formatted_service": _FORMATTED_SERVICE[base["service"]],
                "formatted_username": base["formatted_username"],
                "id": base["id"],
                "schedules": base["schedules"],
                "service": base["service"],
                "service_id": base["service_id"],
                "service_type": base["service_type"],
                "service_username": base["service_username"],
                "shortener": {"domain": rng.choice(("buff.ly", "buff.ly", "bit.ly"))},
                "statistics": base["statistics"],
                "team_members": team,
                "timezone": base["timezone"],
                "user_id": user_id,
                "utm_tracking": rng.choice(("enabled", "enabled", "disabled")),
                "verb": _VERB[base["service"]],
            }
        )
    return profiles
