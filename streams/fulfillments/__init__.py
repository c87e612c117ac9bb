"""Seller fulfilments in (issue 4, point 4): which seller orders to read, reading their fulfilments, and
publishing `fulfillment.recorded` / `fulfillment.cancelled` for what is new or changed (`ledger.fulfillment_sync`).

- `scanner`: a seller connection's poll (run by the poller agent on its tick): changed seller orders that carry our
  reference become check records on `<prefix>.seller-checks`, keyed by order id;
- `checker`: the check agent's work per record, next to the order's state (co-partitioned);
- `entries`: the check records and the `seller-fulfillments` table;
- `wiring`: registers the topic, the table, the agent and the sweep timer.
"""
