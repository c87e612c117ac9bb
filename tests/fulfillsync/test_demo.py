"""`make run`'s demo end to end, once, on the real broker: `fulfillsync demo --once` with its simulated stores of
all four platforms, the worker polling every 2 seconds, the web app beside it, the merchants' script, and the
summary it ends with.

One run (a module fixture, about 40 s) serves every test: each checks one part of the loop in what the run
printed. The test's own configuration gives the run its broker, topic prefix (the demo adds `-demo-<run>`), the
worker's and the web app's ports, and a folder for its configuration, logs and state."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from sandbox.server import free_port
from tests.support.kafka_harness import write_config

pytestmark = pytest.mark.kafka


@dataclass(frozen=True)
class Row:
    """One order of the summary table."""

    order: str  # "northwind #1001"
    seller: str  # "acme (bigcommerce)"
    state: str
    on_buyer: str  # the fulfillments on the buyer's store
    intended: str  # "shipped: yes"


@dataclass(frozen=True)
class Run:
    returncode: int
    out: str
    rows: list[Row]

    def rows_of(self, seller: str, state: str) -> list[Row]:
        return [row for row in self.rows if row.seller.startswith(seller) and row.state.startswith(state)]

    def explain(self) -> str:
        return self.out[-12000:]


def summary_rows(out: str) -> list[Row]:
    """The rows of the last summary table in `out` (columns are separated by two spaces or more)."""
    lines = out.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("buyer order  ")]
    if not starts:
        return []
    rows = []
    for line in lines[starts[-1] + 1:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) != 5:
            break
        rows.append(Row(*cells))
    return rows


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Run:
    folder = tmp_path_factory.mktemp("demo")
    config = write_config(folder, kafka_bootstrap)
    document = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**document, "web": {"host": "127.0.0.1", "port": free_port()}}))
    result = subprocess.run(
        [sys.executable, "-m", "fulfillsync.cli", "--config", str(config), "demo", "--dir", str(folder / "run"),
         "--interval", "2s", "--step-timeout", "25", "--duration", "120", "--once"],
        capture_output=True, text=True, timeout=300, check=False)
    out = result.stdout + result.stderr
    (folder / "demo.out").write_text(out)  # beside the run's logs, for a person reading a failure
    return Run(result.returncode, out, summary_rows(result.stdout))


def test_every_dropship_line_reaches_its_seller_and_the_buyers_own_lines_do_not(run: Run) -> None:
    assert len(run.rows) == 7, run.explain()  # 6 buyer orders, one split between two sellers
    assert sorted(row.seller for row in run.rows) == ["acme (bigcommerce)"] * 2 + ["bolt (magento2)"] * 2 + \
        ["cobalt (shopify)"] * 2 + ["dray (manual)"]
    assert not [row for row in run.rows if row.state.startswith("routed")], run.explain()
    routed = [line for line in run.out.splitlines() if "routed to the seller:" in line]
    assert len(routed) == 7 and not [line for line in routed if "HOUSE-" in line], run.explain()
    # dray has no store: fulfillsync creates no order for it anywhere but in the web app
    assert len(re.findall(r"created on the seller's store as \S+", run.out)) == 6, run.explain()


def test_fulfillments_reach_the_buyers_store_partial_multi_tracking_edited_and_refulfilled(run: Run) -> None:
    reached = [row for row in run.rows if row.intended.startswith(("shipped", "partial"))]
    assert len(reached) == 5 and all(row.intended.endswith(": yes") for row in reached), run.explain()
    # acme shipped 2 mugs, then the last mug and the tee with two tracking numbers: three on the buyer's store
    [mugs] = [row for row in run.rows_of("acme", "SHIPPED") if "1Z999AA10123456784" in row.on_buyer]
    assert "1Z999AA10123456795" in mugs.on_buyer and "1Z999AA10123456808" in mugs.on_buyer
    assert re.search(r"acme \(bigcommerce\): seller fulfilled ACME-MUG×2 .* now partially fulfilled 2/4", run.out)
    # acme corrected the cap's tracking number: the buyer's store shows the new one only
    [cap] = [row for row in run.rows_of("acme", "SHIPPED") if row is not mugs]
    assert "794612345692" in cap.on_buyer and "794612345670" not in cap.on_buyer, run.explain()
    assert re.search(r"acme \(bigcommerce\): the buyer's store now shows: FedEx 794612345670 ", run.out), run.explain()
    # bolt shipped both lamps with a tracking number each
    [lamps] = run.rows_of("bolt", "SHIPPED")
    assert "9400111899223817392648" in lamps.on_buyer and "9400111899223817392655" in lamps.on_buyer
    # cobalt cancelled its fulfillment of the socks and fulfilled again: the buyer's store shows the new parcel only
    [socks] = run.rows_of("cobalt", "SHIPPED")
    assert "JD014600006281230999" in socks.on_buyer and "JD014600006281230458" not in socks.on_buyer, run.explain()
    assert re.search(r"cobalt \(shopify\): REOPENED", run.out), run.explain()
    # cobalt shipped 1 of 4 hats: partially fulfilled, and the buyer's store shows that parcel
    [hats] = run.rows_of("cobalt", "partially fulfilled 1/4")
    assert "1Z999AA10123456819" in hats.on_buyer


def test_the_buyers_cancellation_reaches_the_seller_and_every_order_stands_where_intended(run: Run) -> None:
    assert re.search(r"bolt \(magento2\): buyer cancelled the whole order", run.out), run.explain()
    [cancelled] = [row for row in run.rows if row.intended.startswith("cancelled")]
    assert cancelled.state == "CANCELLED on both stores", run.explain()
    assert cancelled.on_buyer == "none" and cancelled.intended == "cancelled: yes"
    assert "every order reached its intended state (7 of 7)" in run.out
    assert run.returncode == 0, run.explain()


def test_the_order_of_the_seller_without_a_store_waits_in_the_web_app(run: Run) -> None:
    ready = re.search(r"web app ready: (http://127\.0\.0\.1:\d+)/ \(dray, the seller without a store, signs in as "
                      r"dray-manual, password (\S+)\)", run.out)
    assert ready is not None, run.explain()
    [dray] = run.rows_of("dray", "waiting for the seller in the web app")
    assert (dray.on_buyer, dray.intended) == ("none", "web: yes"), run.explain()
    assert re.search(r"dray \(manual\): routed to the seller: DRAY-BOWL×2 ", run.out), run.explain()
    assert re.search(r"dray \(manual\): the web app shows the order to the seller", run.out), run.explain()
    left = re.search(r"left for you to fulfill in the web app: (\S+)/orders/[0-9a-f-]{36} \(sign in as dray-manual, "
                     r"password (\S+)\)", run.out)
    assert left is not None and left.groups() == ready.groups(), run.explain()


def test_the_sellers_stores_show_their_products_sold_at_wholesale_prices_and_inventory_gone_down(run: Run) -> None:
    assert "seller stores: products and inventory" in run.out, run.explain()
    for partner, sku, price, left in (("acme", "ACME-MUG", "6.50", 37), ("acme", "ACME-TEE", "9.00", 39),
                                      ("bolt", "BOLT-LAMP", "38.00", 38), ("cobalt", "COBALT-SOCK", "3.10", 38),
                                      ("cobalt", "COBALT-HAT", "11.40", 36)):
        assert re.search(rf"^  {partner} +{sku} +{re.escape(price)} +40 -> +{left}$", run.out, re.MULTILINE), (
            sku, run.explain())
    # northwind pays acme its catalog prices and the route's flat shipping; corner pays cobalt its price list
    assert re.search(r"acme \(bigcommerce\) +3 ACME-MUG at 6\.50, 1 ACME-TEE at 9\.00; shipping 4\.90; "
                     r"total 33\.40 USD", run.out), run.explain()
    assert re.search(r"cobalt \(shopify\) +2 COBALT-SOCK at 2\.80; shipping 0\.00; total 5\.60 USD",
                     run.out), run.explain()
    assert "(custom line)" not in run.out


def test_the_run_leaves_its_configuration_and_logs_in_its_folder(run: Run) -> None:
    configured = re.search(r"starting the worker on (\S+config\.yaml)", run.out)
    assert configured is not None, run.explain()
    folder = Path(configured.group(1)).parent
    assert {"config.yaml", "stores.yaml", "worker.log", "sandbox.log", "web.log"} <= {
        path.name for path in folder.iterdir()}
    written = (folder / "config.yaml").read_text()
    assert "${FULFILLSYNC_DEMO_TOKEN}" in written and "${FULFILLSYNC_DEMO_WEB_HASH}" in written
    assert "scrypt$" not in written and "${FULFILLSYNC_DEMO_WEB_SECRET}" in written
