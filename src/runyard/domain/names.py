"""Names: validation of entity/project/run names and generated display names."""

from __future__ import annotations

import random
import secrets
import string

from runyard.errors import BadRequest

_FORBIDDEN = set("/\\#?%:\x00\n\r\t")
_ADJECTIVES = (
    "amber", "brave", "calm", "daring", "eager", "fancy", "gentle", "hardy", "icy", "jolly",
    "keen", "lively", "misty", "noble", "olive", "proud", "quiet", "rosy", "silver", "tidy",
    "upbeat", "vivid", "wild", "young", "zesty", "bright", "cosmic", "dusty", "earnest", "fresh",
)
_NOUNS = (
    "river", "meadow", "falcon", "harbor", "comet", "forest", "glacier", "canyon", "breeze",
    "lantern", "orchard", "pebble", "quasar", "ridge", "summit", "thunder", "valley", "willow",
    "yard", "zephyr", "aurora", "beacon", "cedar", "dune", "ember", "fjord", "grove", "haze",
)


def check_name(kind: str, value: str, max_length: int = 128) -> str:
    if not value or len(value) > max_length:
        raise BadRequest(f"{kind} name must be 1 to {max_length} characters")
    if value != value.strip(" "):
        raise BadRequest(f"{kind} name {value!r} starts or ends with a space")
    if any(c in _FORBIDDEN for c in value) or value in (".", ".."):
        raise BadRequest(f"{kind} name {value!r} contains a character that is not allowed")
    return value


def display_name(run_count: int) -> str:
    """``adjective-noun-N`` as W&B does; N is the run's position in its project."""
    rng = random.SystemRandom()
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{run_count + 1}"


def new_run_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))
