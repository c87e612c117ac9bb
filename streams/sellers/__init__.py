"""Seller orders (issue 4, point 3): every stored order is created on its seller's platform exactly once.

- `entries`: the `seller-orders` table (order id -> the `CreatedOrder`) and the internal retry records;
- `creator`: the work for one `order.placed` or one retry record: create, publish the seller's reference,
  record; retry later or dead-letter; never raising;
- `notice`: the new-order email to a manual seller (who fulfils in the web app), sent once;
- `wiring`: registers the table, the retry topic and the two agents on the Faust app.

docs/architecture.md, "Seller orders", lists the failure modes.
"""
