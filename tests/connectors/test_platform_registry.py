"""Each platform describes itself once (`connectors/<platform>/`, `sandbox/<platform>/`) and is listed once
(`connectors/registry.py`, `sandbox/registry.py`); nothing else in the source names it.

The scan below is the list of places a fifth platform touches: a string literal equal to a platform id outside
the allowed places fails it, saying where.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import pytest

from connectors.base import StoreConnector
from connectors.carrier_table import CarrierNames
from connectors.registry import PLATFORMS, connector_for, needs_direct_reads, platform_description
from sandbox.registry import PACKAGES as SANDBOX_PACKAGES
from sandbox.registry import merchant_class, store_module
from sandbox.settings import SandboxPlatform
from schemas.platform_names import CONNECTION_RULES, Platform

REPO = Path(__file__).resolve().parents[2]
SOURCE = ("schemas", "ledger", "connectors", "streams", "webapp", "fulfillsync", "sandbox")
WITH_STORE: tuple[str, ...] = tuple(platform for platform in get_args(Platform) if platform != "manual")
"""The platform ids the scan looks for (`manual` is no platform of its own: the web app)."""

EVERY_PLATFORM = {
    "connectors/registry.py",  # the one list of connectors
    "sandbox/registry.py",  # the one list of simulated stores
    "schemas/platform_names.py",  # the schema enum and the configuration contract of each platform
    "sandbox/settings.py",  # the sandbox's own enum: sandbox/ imports nothing of ours, not even schemas'
    "fulfillsync/demo_setup.py",  # demo data: the demo's cast has a store on every platform
}
"""Files allowed to name any platform, each with the reason it must."""


def _package(module: str) -> str:
    """`connectors.magento.connector` -> `connectors/magento/`."""
    return "/".join(module.split(".")[:2]) + "/"


def allowed_places(platform: str) -> set[str]:
    """The files and folders (ending in /) that may name `platform`: its own packages and `EVERY_PLATFORM`."""
    description = platform_description(platform)
    assert description is not None, platform
    own = {_package(getattr(description.connector, "__module__", "")),
           SANDBOX_PACKAGES[platform].replace(".", "/") + "/"}  # type: ignore[index]
    return own | EVERY_PLATFORM


def platform_literals(root: Path = REPO, parts: tuple[str, ...] = SOURCE) -> list[tuple[str, int, str]]:
    """(file relative to `root`, line, platform id) for every string literal equal to a platform id."""
    found = []
    for part in parts:
        for path in sorted((root / part).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and node.value in WITH_STORE:
                    found.append((path.relative_to(root).as_posix(), node.lineno, str(node.value)))
    return found


def misplaced(literals: list[tuple[str, int, str]]) -> list[str]:
    """The literals outside their platform's allowed places, as `file:line: platform`."""
    places = {platform: allowed_places(platform) for platform in WITH_STORE}
    return [f"{file}:{line}: {platform!r}" for file, line, platform in literals
            if not any(file == place or (place.endswith("/") and file.startswith(place))
                       for place in places[platform])]


def test_platform_ids_appear_only_in_their_own_packages_and_the_registries() -> None:
    literals = platform_literals()
    assert {platform for _, _, platform in literals} == set(WITH_STORE)  # the scan finds what it looks for
    wrong = misplaced(literals)
    assert not wrong, ("a platform is named outside its packages and the registries; look it up in "
                       "connectors.registry (or sandbox.registry) instead:\n" + "\n".join(wrong))


def test_the_scan_fails_on_a_platform_named_elsewhere(tmp_path: Path) -> None:
    (tmp_path / "streams").mkdir()
    (tmp_path / "streams" / "sweep.py").write_text('if platform == "magento2":\n    pass\n')
    (tmp_path / "connectors" / "shopify").mkdir(parents=True)
    (tmp_path / "connectors" / "shopify" / "x.py").write_text('OTHER = "bigcommerce"\nOWN = "shopify"\n')
    literals = platform_literals(tmp_path, ("streams", "connectors"))
    assert sorted(misplaced(literals)) == ["connectors/shopify/x.py:1: 'bigcommerce'", "streams/sweep.py:1: 'magento2'"]


def test_every_platform_of_the_schema_has_a_connector_and_a_store() -> None:
    assert [description.platform for description in PLATFORMS] == list(WITH_STORE)
    assert set(SANDBOX_PACKAGES) == set(WITH_STORE) == set(get_args(SandboxPlatform))
    assert set(CONNECTION_RULES) == set(get_args(Platform))
    assert platform_description("manual") is None and not needs_direct_reads("manual")


@pytest.mark.parametrize("description", PLATFORMS, ids=lambda description: description.platform)
def test_every_description_is_complete(description: object) -> None:
    from connectors.platform import PlatformDescription

    assert isinstance(description, PlatformDescription)
    assert description.title.strip()
    assert isinstance(description.connector, type) and issubclass(description.connector, StoreConnector)
    assert description.required_credentials == CONNECTION_RULES[description.platform].credentials
    assert description.required_credentials, "a store platform needs credentials"
    assert isinstance(description.carrier_names, CarrierNames)
    assert description.carrier_names.to_platform("UPS") is not None
    assert needs_direct_reads(description.platform) is description.tracking_edits_keep_order_time
    if description.webhooks is not None:
        assert callable(description.webhooks.verify) and callable(description.webhooks.order_ref)
    platform: SandboxPlatform = description.platform  # type: ignore[assignment]
    module = store_module(platform)
    assert callable(module.create_app) and callable(module.base_path)
    assert merchant_class(platform).ADMIN_PATH


def test_the_package_exports_its_description() -> None:
    import importlib

    for description in PLATFORMS:
        package = importlib.import_module(_package(description.connector.__module__).rstrip("/").replace("/", "."))
        assert package.PLATFORM is description


def test_connector_for_builds_the_platforms_connector() -> None:
    from pydantic import SecretStr

    from schemas.config import Connection

    for description in PLATFORMS:
        connection = Connection(id="c", partner="p", role="seller", platform=description.platform,
                                base_url="http://127.0.0.1:1", credentials={
                                    key: SecretStr("x") for key in description.required_credentials})
        assert isinstance(connector_for(connection), description.connector)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="has no connector"):
        connector_for(Connection(id="m", partner="p", role="seller", platform="manual"))


def test_connector_for_passes_the_connections_response_cap_to_its_http_layer() -> None:
    from pydantic import SecretStr

    from connectors.http import MIB, PlatformHttp
    from schemas.config import Connection

    for description in PLATFORMS:
        for mib in (3, 16):
            connection = Connection(id="c", partner="p", role="seller", platform=description.platform,
                                    base_url="http://127.0.0.1:1", max_response_mb=mib, credentials={
                                        key: SecretStr("x") for key in description.required_credentials})
            connector = connector_for(connection)
            api = getattr(connector, "api", None)  # Shopify's GraphQL client holds its PlatformHttp
            holders = [connector] if api is None else [connector, api]
            found = [value for holder in holders for value in vars(holder).values() if isinstance(value, PlatformHttp)]
            assert [http.max_response_bytes for http in found] == [mib * MIB], description.platform
