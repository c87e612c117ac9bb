"""Scheduled polling of the configured connections, the buyer order publisher and the seller order scanner.

- `ticks`: the leader's timer publishes one tick per connection and poll interval to `<prefix>.poll-ticks`;
- `tables`: the poll-cursor table (connection id -> cursor, last slot polled) and the buyer-order table;
- `poller`: the agent's work for one tick: at most one poll per connection and slot, never raising;
- `buyer_orders`: a buyer connection's poll: pages of changed orders -> routed `order.placed` events;
- `seller_orders`: a seller connection's poll: changed orders of ours -> check records for `streams.fulfillments`;
- `metrics`: the pollers' counters;
- `wiring`: registers the topic, tables, timer and agent on the Faust app.

docs/architecture.md, "Polling", lists the failure modes.
"""
