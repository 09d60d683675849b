"""Orders as the shop's order feed sends them: upsert, reads, and the facts the engine needs."""
