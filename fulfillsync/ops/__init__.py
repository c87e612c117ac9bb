"""Operators' tools (`fulfillsync replay`, `offsets reset`, `dead-letters`, `order show`, `orders stuck`): what
they read and write, as functions a test can call; `fulfillsync.ops.commands` puts them on the command line.

Every tool reads a bounded range of topics (`reading`), says what it would do (counts by topic, partition and
type) and acts only when told to (`--execute`). docs/operations.md tells when to use which.
"""
