"""The platform ids, and what the configuration file requires of a connection on each.

This is the configuration's own contract, so it lives in `schemas/` (which imports nothing of ours) rather than
in each connector: `fulfillsync config check` and every `Config` validation enforce it without loading a
connector, and every error it raises names the offending key (`credentials`, `api_version`...). A connector's
`PlatformDescription` (`connectors/platform.py`) reads its required credentials from here, so each fact is
written once. Adding a platform adds its id to `Platform` and its entry to `CONNECTION_RULES`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

Platform = Literal["shopify", "bigcommerce", "woocommerce", "magento2", "manual"]
"""Where a connection's orders live; `manual`: no store, the seller fulfills in the web app."""

ConnectionOption = Literal["api_version", "tracking_api"]


@dataclass(frozen=True)
class CredentialSet:
    """One complete set of credential keys a platform accepts, and what it is for people (`a bearer token`)."""

    keys: tuple[str, ...]
    meaning: str


@dataclass(frozen=True)
class ConnectionRules:
    """What a connection of one platform must and may carry.

    `credentials`: the keys its `credentials` mapping must hold (a platform with credentials also needs a
    `base_url`); `alternatives`: other complete sets accepted instead of `credentials` (Magento: a bearer token, or
    the four OAuth 1.0a credentials), each with its meaning, and `meaning` says what `credentials` is for; with
    alternatives, a connection must give exactly one set (keys of two sets mixed are an error). `options`: the
    platform-specific connection options it may set (every other platform's connections must leave them unset)."""

    credentials: tuple[str, ...] = ()
    options: frozenset[ConnectionOption] = frozenset()
    alternatives: tuple[CredentialSet, ...] = ()
    meaning: str = ""

    def credential_sets(self) -> tuple[CredentialSet, ...]:
        """Every accepted set, `credentials` first."""
        return (CredentialSet(self.credentials, self.meaning), *self.alternatives)


MAGENTO_OAUTH_CREDENTIALS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
"""A Magento integration's four credentials, for OAuth 1.0a request signing."""

CONNECTION_RULES: dict[Platform, ConnectionRules] = {
    "shopify": ConnectionRules(credentials=("access_token",), options=frozenset({"api_version"})),
    "bigcommerce": ConnectionRules(credentials=("access_token",)),
    "woocommerce": ConnectionRules(credentials=("consumer_key", "consumer_secret"),
                                   options=frozenset({"tracking_api"})),
    "magento2": ConnectionRules(
        credentials=("access_token",), meaning="a bearer token",
        alternatives=(CredentialSet(MAGENTO_OAUTH_CREDENTIALS, "OAuth 1.0a, the integration's four credentials"),)),
    "manual": ConnectionRules(),
}

REQUIRED_CREDENTIALS: dict[Platform, tuple[str, ...]] = {
    platform: rules.credentials for platform, rules in CONNECTION_RULES.items()}
"""The credential keys each platform's connections must carry (`CONNECTION_RULES`, credentials only); a platform
with alternatives (`ConnectionRules.alternatives`) accepts those sets too, see `credentials_problem`."""


def credentials_problem(platform: Platform, given: Collection[str]) -> str | None:
    """What is wrong with a connection's credential keys `given` on `platform`, as the message of the
    `credentials` key (naming keys, never values); None when they are a set the platform accepts. Keys that no
    set of the platform names are ignored. With one set: every key of it must be there. With alternatives: the
    keys given that some set names must be exactly one set."""
    rules = CONNECTION_RULES[platform]
    sets = rules.credential_sets()
    if not rules.alternatives:
        missing = [key for key in rules.credentials if key not in given]
        if not missing:
            return None
        return (f"credentials: platform {platform} needs {', '.join(rules.credentials)}; "
                f"missing {', '.join(missing)}")
    known = {key for each in sets for key in each.keys}
    named = {key for key in given if key in known}
    if any(named == set(each.keys) for each in sets):
        return None
    choices = " or ".join(f"{_listed(each.keys)} ({each.meaning})" for each in sets)
    closest = max(sets, key=lambda each: (len(named & set(each.keys)), -len(each.keys)))
    missing = [key for key in closest.keys if key not in named]
    extra = sorted(named - set(closest.keys))
    what = [f"missing {', '.join(missing)}"] if missing else []
    what += [f"{', '.join(extra)} not part of it"] if extra else []
    return (f"credentials: platform {platform} needs exactly one of: {choices}; got "
            f"{', '.join(sorted(named)) or 'none of them'}: {'; '.join(what)}")


def _listed(keys: tuple[str, ...]) -> str:
    if len(keys) == 1:
        return f"{keys[0]} alone"
    return f"{', '.join(keys[:-1])} and {keys[-1]}"
