"""Buyer tracking out (issue 4, point 5): the sink that writes every new seller fulfilment, tracking change and
cancellation onto the buyer's order, exactly one buyer-side fulfilment per seller fulfilment.

- `entries`: the `buyer-fulfillments` table (what was written per seller fulfilment, with the buyer-side ref) and
  the retry records;
- `pusher`: the work for one push (from the ledger agent) or retry: compare the ledger's state with what was
  written, and write the difference (`ledger.fulfillment_sync.buyer_action`);
- `wiring`: registers the topics, the table and the two agents.
"""
