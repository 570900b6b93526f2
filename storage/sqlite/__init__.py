"""The SQLite engine: one connection in a thread of its own, transactions and checkpoints."""
