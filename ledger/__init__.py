"""The order ledger: pure domain rules (no Kafka, no HTTP, no clock). See `ledger.apply` for the rules."""

from ledger import stored
from ledger.apply import MAX_HELD_INPUTS, Result, Status, apply, new_state
from ledger.state import FulfillmentRecord, OrderState, Output, Rejection

__all__ = [
    "MAX_HELD_INPUTS", "FulfillmentRecord", "OrderState", "Output", "Rejection", "Result", "Status", "apply",
    "new_state", "stored",
]
