"""Seller fulfillments in: reading the fulfillments of the seller orders that changed (or that the sweep asks for)
and publishing `fulfillment.recorded` / `fulfillment.cancelled` for what is new or changed
(`ledger.fulfillment_sync`). Which seller orders changed is found by the seller connection's poll
(`streams.polling.seller_orders`), which publishes the check records this package defines.

- `records`: the check records on `<prefix>.seller-checks`, keyed by order id;
- `tables`: the `seller-fulfillments` table (what was published per seller fulfillment, the watch window);
- `checker`: the check agent's work per record, next to the order's state (co-partitioned);
- `sweep`: every interval, asks again for failed reads and for orders whose platform keeps tracking edits quiet;
- `wiring`: registers the topic, the table, the agent and the sweep timer.
"""
