"""The order domain in the Faust app: the order table and the ledger agent that maintains it."""
