"""The order domain: the order table and the ledger agent that maintains it.

- `tables`: the `orders` table (order id -> the ledger's state);
- `processor`: the ledger agent's work for one input record (apply, publish, store), never raising;
- `metrics`: the ledger's counters;
- `wiring`: registers the ledger agent on order-events and fulfillment-events.
"""
