"""Scheduled polling of the configured connections (issue 4, point 1) and the buyer order publisher (point 2).

- `ticks`: the leader's timer publishes one tick per connection and poll interval to `<prefix>.poll-ticks`;
- `cursors`: the poll-cursor table (connection id -> cursor, last slot polled) and the buyer-order table;
- `poller`: the agent's work for one tick: at most one poll per connection and slot, never raising;
- `buyer_orders`: a buyer connection's poll: pages of changed orders -> routed `order.placed` events;
- `sink`: the idempotent producer the poller publishes with;
- `wiring`: registers the topic, tables, timer and agent on the Faust app.

docs/architecture.md, "Polling", lists the failure modes.
"""
