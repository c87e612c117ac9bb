"""Seller orders: every stored order is created on its seller's platform exactly once.

- `tables`: the `seller-orders` table (order id -> the created order; pending cancellations; new-order emails);
- `records`: the internal retry records;
- `creator`: the work for one `order.placed` or one retry record: create, publish the seller's reference,
  record; retry later or dead-letter; never raising;
- `canceller`: buyer cancellations sent to the seller's platform, once per change of the totals;
- `notice`: the new-order email to a manual seller (who fulfills in the web app), sent once;
- `wiring`: registers the table, the retry topic and the two agents.

docs/architecture.md, "Seller orders", lists the failure modes.
"""
