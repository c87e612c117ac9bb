"""Buyer tracking out: the sink that writes every new seller fulfillment, tracking change and cancellation onto the
buyer's order, exactly one buyer-side fulfillment per seller fulfillment.

- `tables`: the `buyer-fulfillments` table (what was written per seller fulfillment, with the buyer-side ref);
- `records`: the push records (from the ledger agent) and the retry records;
- `sink`: the work for one push or retry: compare the ledger's state with what was written, and write the
  difference (`ledger.fulfillment_sync.buyer_action`);
- `wiring`: registers the topics, the table and the two agents.
"""
