"""The shipment comments fulfillsync writes on Magento, and how they are read back (pure functions).

Magento has no place on a shipment for our fulfillment id, for a tracking URL, or for "cancelled", so comments
carry all three:

- `Shipped by fulfillsync [ref fulfillsync:<our_fulfillment_id>]`, then one `Tracking <number>: <url>` line per
  number that has a URL: written with the shipment (`POST /V1/order/{id}/ship` `comment`), visible on the
  storefront so the customer sees the URLs;
- `Tracking updated by fulfillsync` + `Tracking <number>: <url>` lines: after a tracking edit; later lines win;
- `Fulfillment cancelled by fulfillsync [ref …]`: with the removal of every track (a cancel);
- `Fulfillment reinstated by fulfillsync [ref …]`: a cancelled shipment used again for a new fulfillment of the
  same units (Magento keeps cancelled units counted as shipped, so they cannot be shipped a second time).

A shipment is read as cancelled when it has no tracks and its newest cancel/reinstate comment is a cancel. Any
comment starting `Fulfillment cancelled` counts, so a seller cancelling in the Magento admin (delete the tracks,
add such a comment) is read the same way; docs/platforms/magento.md tells sellers so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_REF = re.compile(r"\[ref fulfillsync:([^\]\s]+)\]")
_URL_LINE = re.compile(r"^\s*Tracking (\S+): (\S+)\s*$", re.MULTILINE)
_CANCEL = "fulfillment cancelled"
_REINSTATE = "fulfillment reinstated"


def _ref(our_fulfillment_id: str) -> str:
    return f"[ref fulfillsync:{our_fulfillment_id}]"


def _url_lines(numbers: Sequence[str], urls: Sequence[str | None]) -> list[str]:
    return [f"Tracking {number}: {url}" for number, url in zip(numbers, urls, strict=False) if url]


def shipped(our_fulfillment_id: str, numbers: Sequence[str], urls: Sequence[str | None]) -> str:
    """The comment written with a new shipment."""
    return "\n".join([f"Shipped by fulfillsync {_ref(our_fulfillment_id)}", *_url_lines(numbers, urls)])


def tracking_updated(numbers: Sequence[str], urls: Sequence[str | None]) -> str | None:
    """The comment after a tracking edit, or None when there is no URL to tell."""
    lines = _url_lines(numbers, urls)
    return "\n".join(["Tracking updated by fulfillsync", *lines]) if lines else None


def cancelled(our_fulfillment_id: str | None) -> str:
    """The comment that marks a shipment cancelled (written before its tracks are removed)."""
    suffix = f" {_ref(our_fulfillment_id)}" if our_fulfillment_id else ""
    return f"Fulfillment cancelled by fulfillsync{suffix}. Magento still counts these units as shipped."


def reinstated(our_fulfillment_id: str, numbers: Sequence[str], urls: Sequence[str | None]) -> str:
    """The comment that makes a cancelled shipment carry a new fulfillment (with its tracking URLs)."""
    return "\n".join([f"Fulfillment reinstated by fulfillsync {_ref(our_fulfillment_id)}", *_url_lines(numbers, urls)])


def references(texts: Iterable[str]) -> set[str]:
    """Every our_fulfillment_id named in `texts`."""
    return {match for text in texts for match in _REF.findall(text)}


def tracking_urls(texts: Iterable[str]) -> dict[str, str]:
    """number -> URL from the `Tracking <number>: <url>` lines of `texts` (oldest first: later ones win)."""
    found: dict[str, str] = {}
    for text in texts:
        for number, url in _URL_LINE.findall(text):
            found[number] = url
    return found


def is_cancelled(texts: Iterable[str]) -> bool:
    """Whether the newest cancel/reinstate comment among `texts` (oldest first) is a cancel."""
    state = False
    for text in texts:
        start = text.strip().lower()
        if start.startswith(_CANCEL):
            state = True
        elif start.startswith(_REINSTATE):
            state = False
    return state
